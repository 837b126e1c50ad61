// Native tooltips for the pygal charts: pygal stores each bar's label and value in <desc>
// elements; its own tooltip script would come from a CDN, so we turn them into <title>s.
document.querySelectorAll(".pygal-chart .tooltip-trigger").forEach(function (el) {
  var group = el.parentNode;
  var value = group.querySelector("desc.value");
  var label = group.querySelector("desc.x_label");
  if (!value) { return; }
  var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = (label ? label.textContent + ": " : "") + value.textContent;
  el.appendChild(title);
});
