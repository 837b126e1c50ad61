// What other accounts shared with the signed-in user: folders (opened in the file browser,
// where everything below them is reachable) and single files.
import { api, describe, el, formatDate, formatSize, showError } from "./api.js";

const list = document.getElementById("shared");
const folderList = document.getElementById("shared-folders");
const errorBox = document.getElementById("shared-error");
const icon = (kind) => el("span", { class: "icon" }, el("img", { src: `/static/img/${kind}.svg`, alt: "", width: 22, height: 22 }));
const badge = (access) => el("span", { class: "badge" }, access === "write" ? "can edit" : "can view");

async function loadFolders() {
  try {
    const shared = await api("GET", "/api/drive/shared/folders?limit=1000");
    document.getElementById("shared-folders-empty").hidden = shared.length > 0;
    folderList.replaceChildren(...shared.map(({ folder, access }) => el("li", { class: "entry is-folder" },
      icon("folder"),
      el("span", { class: "label" }, el("a", { class: "name", href: `/drive?folder=${encodeURIComponent(folder.id)}` }, folder.name), badge(access)),
      el("span", { class: "size" }, "—"),
      el("span", { class: "date" }, formatDate(folder.updated_at)),
      el("a", { class: "button", href: `/api/drive/folders/${encodeURIComponent(folder.id)}/zip`, download: `${folder.name}.zip` }, "Download as zip"))));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function loadFiles() {
  try {
    const files = await api("GET", "/api/drive/shared?limit=1000");
    document.getElementById("shared-empty").hidden = files.length > 0;
    list.replaceChildren(...files.map((f) => el("li", { class: "entry is-file" },
      icon("file"),
      el("span", { class: "label" }, el("a", { class: "name", href: `/view/${f.id}` }, f.name), badge(f.access)),
      el("span", { class: "size" }, formatSize(f.size)),
      el("span", { class: "date" }, formatDate(f.updated_at)),
      el("a", { class: "button", href: `/api/drive/files/${f.id}/content`, download: f.name }, "Download"))));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

loadFolders();
loadFiles();
