// Runs before the page is drawn: tells the CSS that scripts are on (phone menu, colour pickers that save on change).
document.documentElement.classList.add("js");
