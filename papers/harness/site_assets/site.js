// Sorting and filtering of the index table; nothing else, nothing fetched.
(function () {
  var table = document.getElementById('papers');
  if (!table) return;
  var body = table.tBodies[0];
  var tag = document.getElementById('tag'), verdict = document.getElementById('verdict');
  function apply() {
    Array.prototype.forEach.call(body.rows, function (row) {
      var tags = row.getAttribute('data-tags').split(' ');
      var okTag = !tag.value || tags.indexOf(tag.value) >= 0;
      var okVerdict = !verdict.value || (' ' + row.getAttribute('data-verdicts') + ' ').indexOf(' ' + verdict.value + ' ') >= 0;
      row.hidden = !(okTag && okVerdict);
    });
  }
  tag.addEventListener('change', apply);
  verdict.addEventListener('change', apply);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    if (!th.hasAttribute('data-key')) return;
    th.addEventListener('click', function () {
      var asc = th.getAttribute('data-dir') !== 'asc';
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[i].getAttribute('data-sort'), y = b.cells[i].getAttribute('data-sort');
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
