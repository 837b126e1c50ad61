// Files other accounts shared with the signed-in user.
import { api, describe, el, formatDate, formatSize, showError } from "./api.js";

const list = document.getElementById("shared");
try {
  const files = await api("GET", "/api/drive/shared?limit=1000");
  document.getElementById("shared-empty").hidden = files.length > 0;
  list.replaceChildren(...files.map((f) => el("li", { class: "entry is-file" },
    el("span", { class: "icon" }, el("img", { src: "/static/img/file.svg", alt: "", width: 22, height: 22 })),
    el("span", { class: "label" }, el("a", { class: "name", href: `/view/${f.id}` }, f.name), el("span", { class: "badge" }, f.access === "write" ? "can edit" : "can view")),
    el("span", { class: "size" }, formatSize(f.size)),
    el("span", { class: "date" }, formatDate(f.updated_at)),
    el("a", { class: "button", href: `/api/drive/files/${f.id}/content`, download: f.name }, "Download"))));
} catch (err) {
  showError(document.getElementById("shared-error"), describe(err));
}
