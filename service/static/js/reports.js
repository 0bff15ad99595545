// The compliance chart page: "The chart as PNG" draws the page's own SVG on a canvas and saves it.
// No network: the SVG is serialised from the page and loaded as a data: image (the content security policy
// allows data: images, not blob: ones); the canvas is twice the SVG's size, sharp on a projector.

const SCALE = 2;

function svgDataUrl(svg) {
  const text = new XMLSerializer().serializeToString(svg);
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the chart could not be drawn"));
    image.src = url;
  });
}

async function savePng(svg, fileName) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const image = await loadImage(svgDataUrl(svg));
  const canvas = document.createElement("canvas");
  canvas.width = width * SCALE;
  canvas.height = height * SCALE;
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function fileName(svg) {
  const measure = (svg.dataset.measure || "chart").replace(/[^A-Za-z0-9._-]+/g, "-");
  const scope = (svg.dataset.scope || "").replace(/[^A-Za-z0-9._-]+/g, "-");
  return `${svg.dataset.careBundle || "careloop"}-${measure}-${scope}.png`;
}

const button = document.querySelector('[data-download="png"]');
const svg = document.querySelector("[data-chart-figure] > svg");
if (button && svg) {
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    savePng(svg, fileName(svg))
      .catch((error) => {
        button.insertAdjacentText("afterend", ` ${error.message}`);
      })
      .finally(() => {
        button.disabled = false;
      });
  });
}
