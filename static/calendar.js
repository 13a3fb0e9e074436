// Calendar views: keyboard shortcuts, current-time line, scrolling to the working day.
