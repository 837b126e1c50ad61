async () => {
  const file = (name, text) => new File([text], name, { type: "text/plain" });
  const fileEntry = (f) => ({ isFile: true, isDirectory: false, name: f.name, file: (ok) => ok(f) });
  const dirEntry = (name, children) => ({
    isFile: false, isDirectory: true, name,
    createReader: () => { let given = false; return { readEntries: (ok) => { ok(given ? [] : children); given = true; } }; },
  });
  const tree = dirEntry("album", [
    fileEntry(file("a.txt", "alpha")),
    dirEntry("inner", [fileEntry(file("b.txt", "bravo")), dirEntry("deep", [fileEntry(file("c.txt", "charlie"))])]),
  ]);
  const loose = file("loose.txt", "loose");
  const dataTransfer = {
    types: ["Files"], files: [],
    items: [{ webkitGetAsEntry: () => tree }, { webkitGetAsEntry: () => fileEntry(loose) }],
  };
  const zone = document.getElementById("dropzone");
  for (const type of ["dragover", "drop"]) {
    const event = new Event(type, { bubbles: true, cancelable: true });
    Object.defineProperty(event, "dataTransfer", { value: dataTransfer });
    zone.dispatchEvent(event);
  }
}
