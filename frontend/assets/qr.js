// A QR code drawn on a canvas in the page (qrcode-generator, vendored from npm): no
// outside service learns the dashboard's address. Always dark on white with the quiet
// zone scanners need, whatever the theme.
import qrcode from "./qrcode.js";

const QUIET = 4; // modules of white around the code, as the standard asks

// `url` must be ASCII (a URL's href is: the library's byte mode is Latin-1).
export function drawQr(canvas, url) {
  const code = qrcode(0, "M");
  code.addData(url);
  code.make();
  const modules = code.getModuleCount();
  const size = modules + 2 * QUIET;
  canvas.width = size;
  canvas.height = size; // one pixel per module; CSS scales it up, pixelated
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, size, size);
  context.fillStyle = "#000000";
  for (let row = 0; row < modules; row += 1) {
    for (let col = 0; col < modules; col += 1) {
      if (code.isDark(row, col)) context.fillRect(col + QUIET, row + QUIET, 1, 1);
    }
  }
  canvas.dataset.url = url; // what it encodes, for people and tests to check
}
