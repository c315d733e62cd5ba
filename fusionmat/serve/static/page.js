"use strict";
const drop = document.getElementById("drop");
const fileInput = document.getElementById("file");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
let current = null;
const urls = [];

function say(text, isError) {
  statusLine.className = isError ? "error" : "";
  statusLine.textContent = text;
}

function working(text) {
  statusLine.className = "";
  statusLine.innerHTML = '<span class="spinner"></span>';
  statusLine.append(text);
}

function background() {
  const kind = document.querySelector('input[name="bgkind"]:checked').value;
  if (kind === "colour") return {bg: document.getElementById("colour").value};
  if (kind === "blur") return {bg: "blur"};
  if (kind === "picture") {
    const picture = document.getElementById("picture").files[0];
    if (picture) return {picture};
  }
  return {bg: "transparent"};
}

async function ask(file, output, extra) {
  const form = new FormData();
  form.append("image", file);
  form.append("output", output);
  form.append("format", "png");
  if (extra && extra.bg) form.append("bg", extra.bg);
  if (extra && extra.picture) form.append("background", extra.picture);
  const answer = await fetch("api/matte", {method: "POST", body: form});
  if (!answer.ok) {
    let reason = answer.status + " " + answer.statusText;
    try { reason = (await answer.json()).error || reason; } catch (e) { /* not JSON */ }
    throw new Error(reason);
  }
  return await answer.blob();
}

function show(id, blob) {
  const url = URL.createObjectURL(blob);
  urls.push(url);
  document.getElementById(id).src = url;
  const link = document.getElementById(id + "-dl");
  if (link) link.href = url;
}

async function run() {
  if (!current) return;
  while (urls.length) URL.revokeObjectURL(urls.pop());
  results.hidden = false;
  show("input", current);
  for (const id of ["matte", "cutout", "composite"]) document.getElementById(id).removeAttribute("src");
  const started = performance.now();
  try {
    working(" Matting " + current.name + " (1 of 3: matte)...");
    show("matte", await ask(current, "matte"));
    working(" Matting " + current.name + " (2 of 3: cut-out)...");
    show("cutout", await ask(current, "cutout"));
    working(" Matting " + current.name + " (3 of 3: composite)...");
    show("composite", await ask(current, "composite", background()));
    say("Done in " + ((performance.now() - started) / 1000).toFixed(1) + " s.", false);
    document.body.dataset.state = "done";
  } catch (error) {
    say("Could not matte " + current.name + ": " + error.message, true);
    document.body.dataset.state = "error";
  }
}

function take(file) {
  if (!file) return;
  current = file;
  document.body.dataset.state = "working";
  run();
}

drop.addEventListener("click", () => fileInput.click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") fileInput.click(); });
fileInput.addEventListener("change", () => take(fileInput.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files[0]); });
for (const input of document.querySelectorAll('input[name="bgkind"], #colour, #picture')) {
  input.addEventListener("change", async () => {
    if (!current || document.body.dataset.state === "working") return;
    try {
      working(" New background...");
      show("composite", await ask(current, "composite", background()));
      say("Done.", false);
    } catch (error) { say("Could not compose: " + error.message, true); }
  });
}
