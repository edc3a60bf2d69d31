// The courier page's signature pad: strokes drawn on the canvas become SVG path
// data (M/L commands) in the hidden "signature" field. No libraries.
(function () {
  var pad = document.getElementById("signature-pad");
  var field = document.getElementById("signature");
  if (!pad || !field) return;
  var ctx = pad.getContext("2d");
  var path = [];
  var drawing = false;
  function at(e) {
    var r = pad.getBoundingClientRect();
    var p = e.touches ? e.touches[0] : e;
    return [Math.round((p.clientX - r.left) * pad.width / r.width),
            Math.round((p.clientY - r.top) * pad.height / r.height)];
  }
  function start(e) { e.preventDefault(); drawing = true; var p = at(e); path.push("M" + p[0] + "," + p[1]); ctx.beginPath(); ctx.moveTo(p[0], p[1]); }
  function move(e) { if (!drawing) return; e.preventDefault(); var p = at(e); path.push("L" + p[0] + "," + p[1]); ctx.lineTo(p[0], p[1]); ctx.stroke(); }
  function end() { drawing = false; field.value = path.join(" "); }
  pad.addEventListener("mousedown", start); pad.addEventListener("mousemove", move); window.addEventListener("mouseup", end);
  pad.addEventListener("touchstart", start); pad.addEventListener("touchmove", move); pad.addEventListener("touchend", end);
  var clear = document.getElementById("signature-clear");
  if (clear) clear.addEventListener("click", function () { path = []; field.value = ""; ctx.clearRect(0, 0, pad.width, pad.height); });
})();
