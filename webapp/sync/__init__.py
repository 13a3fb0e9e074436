"""Sync domain logic: pull provider changes into calendar_events, push local edits back."""
