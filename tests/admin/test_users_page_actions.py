"""The users page's actions: each asks in the page first, does one thing, and leaves an audit row naming the acting
admin. Disabling ends the sessions and the private feed; admin rights never leave the instance without an admin;
invitations show their link once. Pages go by email and stay put while accounts come and go."""
from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.factories import add_users, make_user
from tests.helpers import csrf_token_from
from webapp.admin.users import LastAdmin, revoke_admin
from webapp.extensions import db
from webapp.models import AuditLog, AuditStatus, CalendarFeed, Invitation, User

HTMX = {"HX-Request": "true"}
ROW = re.compile(r'<tr id="user-[0-9a-f-]+" data-user-email="([^"]+)">')


def post(client, url, data=None, **headers):
    token = csrf_token_from(client.get("/admin/users").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, headers=headers)


def audit_rows(db_session, action) -> list[AuditLog]:
    return db_session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)).all()


def emails(response) -> list[str]:
    return ROW.findall(response.get_data(as_text=True))


def fresh(db_session, user) -> User:
    db_session.expire_all()
    return db_session.get(User, user.id)


def test_the_page_shows_the_columns_an_admin_asked_for(admin_client, db_session, admin):
    make_user(db_session, email="shown@example.com", is_admin=True, disabled_at=datetime(2026, 12, 1, tzinfo=UTC))
    html = admin_client.get("/admin/users?q=shown").get_data(as_text=True)
    headings = re.findall(r'<th scope="col">([^<]+)</th>', html)
    assert headings == ["Email", "Created", "Last sign-in (UTC)", "Connections", "Admin", "Disabled", "Actions"]
    row = html[html.index('data-user-email="shown@example.com"'):]
    row = row[:row.index("</tr>")]
    assert '<span class="badge">admin</span>' in row and "since 01 Dec 2026" in row
    assert ">Enable</button>" in row and ">Revoke admin</a>" in row


def test_disable_asks_in_the_page_first(admin_client, db_session):
    member = make_user(db_session, email="asked@example.com")
    question = admin_client.get(f"/admin/users/{member.id}/disable", headers=HTMX)
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and html.lstrip().startswith(f'<tr id="user-{member.id}"')
    assert "Disable asked@example.com?" in html and "private calendar address stops working" in html
    assert f'hx-post="/admin/users/{member.id}/disable"' in html and "Cancel" in html
    assert "confirm(" not in html and "hx-confirm" not in html
    page = admin_client.get(f"/admin/users/{member.id}/disable")  # without JavaScript: a page of its own
    assert "<h1>Disable asked@example.com?</h1>" in page.get_data(as_text=True)
    cancel = admin_client.get(f"/admin/users/{member.id}/row", headers=HTMX)
    assert emails(cancel) == ["asked@example.com"] and ">Disable</a>" in cancel.get_data(as_text=True)
    assert admin_client.get(f"/admin/users/{member.id}/row").location == "/admin/users"
    assert fresh(db_session, member).disabled_at is None  # asking changed nothing
    assert audit_rows(db_session, "ADMIN_USER_DISABLE") == []


def test_disable_ends_the_sessions_and_the_private_feed_at_once(app, admin_client, db_session, login, admin):
    member = make_user(db_session)
    their_browser = app.test_client()
    login(member, test_client=their_browser)
    subscribe = their_browser.get("/settings/subscribe").get_data(as_text=True)
    issued = their_browser.post("/settings/subscribe", data={"action": "issue",
                                                             "csrf_token": csrf_token_from(subscribe)})
    feed_path = urlsplit(re.search(r'id="feed-url" type="text" readonly value="([^"]+)"',
                                   issued.get_data(as_text=True)).group(1)).path
    assert their_browser.get(feed_path).status_code == 200

    response = post(admin_client, f"/admin/users/{member.id}/disable", **HTMX)
    assert response.status_code == 200
    assert "1 session ended and their private calendar address is off" in response.headers["HX-Trigger"]
    assert db_session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == member.id)) is None
    assert "/login" in their_browser.get("/settings/profile").location
    (entry,) = audit_rows(db_session, "ADMIN_USER_DISABLE")
    assert (entry.user_id, entry.resource_id, entry.metadata_) == (admin.id, str(member.id), {"sessions_ended": 1})
    (revoked,) = audit_rows(db_session, "FEED_REVOKE")
    assert revoked.metadata_ == {"reason": "account_disabled"}

    post(admin_client, f"/admin/users/{member.id}/enable")
    assert app.test_client().get(feed_path).status_code == 404  # enabling does not bring the old address back


def test_make_admin_and_revoke_admin_are_audited_with_the_acting_admin(admin_client, db_session, admin):
    member = make_user(db_session, email="promoted@example.com")
    question = admin_client.get(f"/admin/users/{member.id}/make-admin", headers=HTMX).get_data(as_text=True)
    assert "Make promoted@example.com an admin?" in question

    made = post(admin_client, f"/admin/users/{member.id}/make-admin", **HTMX)
    assert made.status_code == 200 and "promoted@example.com is an admin." in made.headers["HX-Trigger"]
    assert ">Revoke admin</a>" in made.get_data(as_text=True)
    assert fresh(db_session, member).is_admin
    (grant,) = audit_rows(db_session, "ADMIN_GRANT")
    assert (grant.user_id, grant.resource_id) == (admin.id, str(member.id))

    revoked = post(admin_client, f"/admin/users/{member.id}/revoke-admin")
    assert revoked.status_code == 302 and revoked.location == "/admin/users"
    assert not fresh(db_session, member).is_admin
    (entry,) = audit_rows(db_session, "ADMIN_REVOKE")
    assert (entry.user_id, entry.resource_id, entry.status) == (admin.id, str(member.id), AuditStatus.SUCCESS)
    assert post(admin_client, f"/admin/users/{member.id}/revoke-admin").status_code == 409  # not an admin now


def test_disabled_accounts_cannot_be_made_admin(admin_client, db_session):
    member = make_user(db_session, disabled_at=datetime.now(UTC))
    assert post(admin_client, f"/admin/users/{member.id}/make-admin").status_code == 409
    assert not fresh(db_session, member).is_admin


def test_the_last_admin_cannot_revoke_themselves(admin_client, db_session, admin):
    question = admin_client.get(f"/admin/users/{admin.id}/revoke-admin").get_data(as_text=True)
    assert f"{admin.email} is the only admin: make someone else an admin first." in question
    assert 'action="/admin/users/' not in question  # no button to press

    refused = post(admin_client, f"/admin/users/{admin.id}/revoke-admin", **HTMX)
    assert refused.status_code == 409
    assert "is the only admin" in refused.headers["HX-Trigger"] and '"error"' in refused.headers["HX-Trigger"]
    assert post(admin_client, f"/admin/users/{admin.id}/revoke-admin").status_code == 409
    assert fresh(db_session, admin).is_admin
    failures = audit_rows(db_session, "ADMIN_REVOKE")
    assert [(row.user_id, row.status, row.error_message) for row in failures] == [
        (admin.id, AuditStatus.FAILURE, "last_admin")] * 2


def test_a_disabled_admin_does_not_count_as_another_admin(admin_client, db_session, admin):
    make_user(db_session, is_admin=True, disabled_at=datetime.now(UTC))
    assert post(admin_client, f"/admin/users/{admin.id}/revoke-admin").status_code == 409


def test_an_admin_may_step_down_while_another_remains(admin_client, db_session, admin):
    make_user(db_session, is_admin=True)
    response = post(admin_client, f"/admin/users/{admin.id}/revoke-admin", **HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"
    assert "You are no longer an admin." in admin_client.get("/", follow_redirects=True).get_data(as_text=True)
    assert not fresh(db_session, admin).is_admin
    assert admin_client.get("/admin/users").status_code == 403
    (entry,) = audit_rows(db_session, "ADMIN_REVOKE")
    assert (entry.user_id, entry.resource_id) == (admin.id, str(admin.id))


def test_two_admins_revoking_each_other_at_once_leave_one(app, clean_database):
    """Each revocation locks the admins' rows: the second waits for the first, then finds the only admin left."""
    with app.app_context():
        engine = db.engine
        with engine.begin() as setup:
            setup.execute(text("INSERT INTO users (email, password_hash, is_admin) VALUES "
                               "('a@example.com', 'x', true), ('b@example.com', 'x', true)"))
    with engine.connect() as first, engine.connect() as second, engine.connect() as observer:
        one, two = Session(bind=first), Session(bind=second)
        a_takes_b = one.scalars(select(User).where(User.email == "b@example.com")).one()
        b_takes_a = two.scalars(select(User).where(User.email == "a@example.com")).one()
        assert revoke_admin(one, a_takes_b)
        outcome = {}

        def revoke_the_other():
            try:
                outcome["second"] = revoke_admin(two, b_takes_a)
            except LastAdmin:
                outcome["second"] = "refused"

        waiter = threading.Thread(target=revoke_the_other)
        waiter.start()
        deadline = time.monotonic() + 10
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'")
        while not observer.scalar(waiting):
            assert time.monotonic() < deadline, "the second revocation never waited for the first"
            observer.rollback()
        one.commit()
        waiter.join(timeout=10)
        two.rollback()
        admins = observer.scalars(text("SELECT email FROM users WHERE is_admin")).all()
    assert outcome == {"second": "refused"} and admins == ["a@example.com"]


def test_an_invitation_made_on_the_page_shows_its_link_once(app, admin_client, db_session, admin):
    response = post(admin_client, "/admin/users/invite", {"email": " Guest@Example.org "}, **HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="invite"')
    link = re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"', html).group(1)
    assert "/register/invitation?token=" in link and "Invitation link for guest@example.org" in html
    token = link.split("token=", 1)[1]
    (invitation,) = db_session.scalars(select(Invitation)).all()
    assert invitation.email == "guest@example.org" and invitation.invited_by_id == admin.id
    assert invitation.token_hash != token and token not in invitation.token_hash
    (entry,) = audit_rows(db_session, "INVITATION_CREATE")
    assert (entry.user_id, entry.resource_id) == (admin.id, str(invitation.id))
    assert entry.metadata_ == {"email": "guest@example.org"}
    assert token not in admin_client.get("/admin/users").get_data(as_text=True)  # shown once

    without_javascript = post(admin_client, "/admin/users/invite", {"email": "plain@example.org"})
    assert without_javascript.status_code == 200 and "<h1>Users</h1>" in without_javascript.get_data(as_text=True)
    assert 'id="invitation-link"' in without_javascript.get_data(as_text=True)


def test_invitation_mistakes_are_shown_in_place(app, admin_client, db_session, admin, monkeypatch):
    bad = post(admin_client, "/admin/users/invite", {"email": "not an address"}, **HTMX)
    assert bad.status_code == 422 and 'id="email-errors"' in bad.get_data(as_text=True)
    taken = post(admin_client, "/admin/users/invite", {"email": admin.email}, **HTMX)
    assert taken.status_code == 422 and "This email already has an account." in taken.get_data(as_text=True)
    monkeypatch.setitem(app.config, "SIGNUP", "closed")
    closed = post(admin_client, "/admin/users/invite", {"email": "new@example.org"}, **HTMX)
    assert closed.status_code == 422 and "so invitations cannot be used" in closed.get_data(as_text=True)
    assert "Create invitation link" not in admin_client.get("/admin/users").get_data(as_text=True)
    assert db_session.scalars(select(Invitation)).all() == [] and audit_rows(db_session, "INVITATION_CREATE") == []


def test_pages_go_by_email_both_ways_and_stay_put_while_accounts_come(admin_client, db_session):
    add_users(db_session, [f"paged{number:03d}@example.com" for number in range(120)])
    first = admin_client.get("/admin/users?q=paged")
    assert emails(first) == [f"paged{n:03d}@example.com" for n in range(50)]
    assert 'rel="prev"' not in first.get_data(as_text=True)
    next_link = re.search(r'<a href="([^"]+)"[^>]*rel="next"', first.get_data(as_text=True)).group(1)

    add_users(db_session, ["paged000a@example.com", "paged005b@example.com"])  # land on the first page
    second = admin_client.get(next_link.replace("&amp;", "&"))
    assert emails(second) == [f"paged{n:03d}@example.com" for n in range(50, 100)]
    third = admin_client.get(re.search(r'<a href="([^"]+)"[^>]*rel="next"',
                                       second.get_data(as_text=True)).group(1).replace("&amp;", "&"))
    assert emails(third) == [f"paged{n:03d}@example.com" for n in range(100, 120)]
    assert 'rel="next"' not in third.get_data(as_text=True)

    back = re.search(r'<a href="([^"]+)"[^>]*rel="prev"', third.get_data(as_text=True)).group(1)
    assert emails(admin_client.get(back.replace("&amp;", "&"))) == [f"paged{n:03d}@example.com"
                                                                   for n in range(50, 100)]
    assert admin_client.get("/admin/users?after=a&before=b").status_code == 422
    assert admin_client.get("/admin/users?after=" + "x" * 300).status_code == 422


def test_delete_asks_first_then_removes_the_account_and_records_the_acting_admin(admin_client, db_session, admin):
    member = make_user(db_session, email="leaving@example.com")
    member_id = member.id

    question = admin_client.get(f"/admin/users/{member_id}/delete", headers=HTMX).get_data(as_text=True)
    assert "Delete leaving@example.com for good?" in question and "cannot be undone" in question
    response = post(admin_client, f"/admin/users/{member_id}/delete", **HTMX)

    assert response.status_code == 200 and response.get_data(as_text=True) == ""  # the row goes from the page
    assert "leaving@example.com is deleted." in response.headers["HX-Trigger"]
    db_session.expire_all()
    assert db_session.get(User, member_id) is None
    (entry,) = audit_rows(db_session, "ACCOUNT_DELETE")
    assert (entry.user_id, entry.resource_id, entry.metadata_["via"]) == (admin.id, str(member_id), "admin")


def test_an_admin_deletes_their_own_account_from_settings_not_from_the_users_page(admin_client, db_session, admin):
    response = post(admin_client, f"/admin/users/{admin.id}/delete")

    assert response.status_code == 400 and "Settings" in response.get_data(as_text=True)
    assert fresh(db_session, admin) is not None
