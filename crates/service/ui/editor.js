// The flow editor (/ui/flows/new, /ui/flows/NAME/edit): the YAML beside the form,
// both ways. The server converts (POST /api/flows/parse: YAML -> flow JSON, problems,
// form; POST /api/flows/render: flow JSON -> YAML, problems, form); this script keeps
// the flow's JSON, applies the form's edits to it, places problems at their fields,
// and drives save, deploy, enable, disable and the dry-run test.
(function () {
  'use strict';
  var F = window.HlbFlowForm;
  var root = document.getElementById('editor');
  if (!root || !F) { return; }
  function $(id) { return document.getElementById(id); }
  var yamlEl = $('flow-yaml');
  var formEl = $('flow-form');
  var statusEl = $('editor-status');
  var problemsEl = $('yaml-problems');
  var picker = $('op-picker');
  var model = null;
  var seq = 0;
  var timers = {};
  var pickTarget = null;
  var pickKind = '';

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    if (m) { return m.getAttribute('content'); }
    var i = document.querySelector('input[name="csrf_token"]');
    return i ? i.value : '';
  }

  function api(method, url, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf(), Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.text().then(function (text) {
        var data;
        try { data = JSON.parse(text); } catch (e) { data = text; }
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  function say(msg, bad) {
    statusEl.textContent = msg;
    statusEl.classList.toggle('error', !!bad);
  }

  function detail(r) {
    return (r.data && r.data.detail) ? r.data.detail : ('HTTP ' + r.status);
  }

  function later(name, ms, fn) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  }

  function sample() {
    var t = $('test-item').value.trim();
    if (!t) { return null; }
    try { return JSON.parse(t); } catch (e) { return null; }
  }

  function flowName() {
    return (model && model.name) || root.dataset.flow || '';
  }

  function showProblems(problems) {
    formEl.querySelectorAll('.field-problem').forEach(function (e) { e.remove(); });
    formEl.querySelectorAll('.has-problem').forEach(function (e) { e.classList.remove('has-problem'); });
    formEl.querySelectorAll('[aria-invalid]').forEach(function (c) {
      c.removeAttribute('aria-invalid');
      var d = (c.getAttribute('aria-describedby') || '').split(' ').filter(function (x) {
        return x && !/-problem(-\d+)?$/.test(x);
      }).join(' ');
      if (d) { c.setAttribute('aria-describedby', d); } else { c.removeAttribute('aria-describedby'); }
    });
    problemsEl.textContent = '';
    problems.forEach(function (p, k) {
      var box = null;
      if (p.field !== null && p.field !== undefined) {
        var sel = CSS.escape(p.field);
        box = formEl.querySelector('[data-field="' + sel + '"]') || formEl.querySelector('[data-node="' + sel + '"]');
      }
      var el = document.createElement(box ? 'p' : 'li');
      el.className = 'field-problem';
      if (!box) {
        el.textContent = 'line ' + p.line + ', column ' + p.col + ': ' + p.message;
        problemsEl.appendChild(el);
        return;
      }
      el.textContent = p.message;
      if (box.tagName === 'FIELDSET') {
        box.insertBefore(el, box.querySelector('legend').nextSibling);
      } else {
        box.appendChild(el);
        var control = box.querySelector('[data-path]');
        if (control) {
          el.id = control.id + '-problem-' + k;
          control.setAttribute('aria-invalid', 'true');
          var d = control.getAttribute('aria-describedby');
          control.setAttribute('aria-describedby', (d ? d + ' ' : '') + el.id);
        }
      }
      box.classList.add('has-problem');
    });
    say(problems.length ? problems.length + ' problem(s): see the marked fields.' : 'No problems.', problems.length > 0);
  }

  function redraw(html) {
    var active = document.activeElement && document.activeElement.id;
    formEl.innerHTML = html;
    if (active && formEl.querySelector('#' + CSS.escape(active))) { $(active).focus(); }
  }

  // YAML -> model (and the form).
  function fromYaml(withForm) {
    var n = ++seq;
    return api('POST', '/api/flows/parse', { yaml: yamlEl.value, sample: sample(), form: withForm }).then(function (r) {
      if (n !== seq) { return; }
      if (!r.ok) { say('Reading the YAML failed: ' + detail(r), true); return; }
      if (r.data.flow) {
        model = r.data.flow;
        if (withForm && r.data.form !== undefined) { redraw(r.data.form); }
      }
      showProblems(r.data.problems);
    });
  }

  // Model -> YAML (and the form when its shape changed).
  function fromForm(withForm) {
    if (!model) { return Promise.resolve(); }
    var n = ++seq;
    return api('POST', '/api/flows/render', { flow: model, sample: sample(), form: withForm }).then(function (r) {
      if (n !== seq) { return; }
      if (!r.ok) { say('The form does not make a flow: ' + detail(r), true); return; }
      yamlEl.value = r.data.yaml;
      if (withForm && r.data.form !== undefined) { redraw(r.data.form); }
      showProblems(r.data.problems);
    });
  }

  function structural(action, path, arg) {
    var err = F.apply(model, action, path, arg);
    if (err) { say(err, true); return; }
    fromForm(true);
  }

  formEl.addEventListener('input', function (ev) {
    var el = ev.target;
    if (!model || !el.dataset || !el.dataset.path || el.dataset.action || el.tagName === 'SELECT') { return; }
    F.bind(model, el);
    later('form', 350, function () { fromForm(false); });
  });

  formEl.addEventListener('change', function (ev) {
    var el = ev.target;
    if (!model || !el.dataset || !el.dataset.path) { return; }
    var action = el.dataset.action;
    if (action === 'operation' || action === 'structural') {
      F.bind(model, el);
      fromForm(true);
    } else if (action) {
      structural(action, el.dataset.path, el.value);
    } else if (el.tagName === 'SELECT') {
      F.bind(model, el);
      fromForm(false);
    }
  });

  formEl.addEventListener('click', function (ev) {
    var btn = ev.target.closest('button[data-action]');
    if (!btn || !model) { return; }
    var action = btn.dataset.action;
    if (action === 'pick-op') {
      openPicker(btn.dataset.target, btn.dataset.opKind);
      return;
    }
    var arg = btn.dataset.arg ? $(btn.dataset.arg).value : '';
    structural(action, btn.dataset.target, arg);
  });

  yamlEl.addEventListener('input', function () {
    later('yaml', 800, function () { timers.yaml = null; fromYaml(true); });
  });
  $('apply-yaml').addEventListener('click', function () {
    clearTimeout(timers.yaml);
    timers.yaml = null;
    fromYaml(true);
  });

  // The operation picker.
  function openPicker(target, kind) {
    pickTarget = target;
    pickKind = kind === 'any' ? '' : kind;
    $('op-search').value = '';
    $('op-results').textContent = '';
    picker.showModal();
    $('op-search').focus();
    search();
  }

  function search() {
    var q = encodeURIComponent($('op-search').value);
    api('GET', '/api/ops/search?q=' + q + '&kind=' + encodeURIComponent(pickKind) + '&limit=30').then(function (r) {
      var list = $('op-results');
      list.textContent = '';
      if (!r.ok) { list.textContent = detail(r); return; }
      r.data.forEach(function (op) {
        var li = document.createElement('li');
        var b = document.createElement('button');
        b.type = 'button';
        b.dataset.opId = op.id;
        b.dataset.testid = 'op-result-' + op.id;
        b.textContent = op.id + ' — ' + op.name + ' (' + op.method + ' ' + op.path + ')';
        li.appendChild(b);
        list.appendChild(li);
      });
      if (!r.data.length) { list.textContent = 'No operation matches.'; }
    });
  }

  $('op-search').addEventListener('input', function () { later('search', 200, search); });
  $('op-results').addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-op-id]');
    if (!b || !pickTarget) { return; }
    F.set(model, pickTarget, b.dataset.opId);
    var fieldId = 'f' + pickTarget.replace(/[^A-Za-z0-9_]/g, '-');
    picker.close();
    fromForm(true).then(function () { var f = $(fieldId); if (f) { f.focus(); } });
  });
  $('op-close').addEventListener('click', function () { picker.close(); });

  // Save, deploy, enable, disable.
  function flush() {
    clearTimeout(timers.form);
    if (timers.yaml) {
      clearTimeout(timers.yaml);
      timers.yaml = null;
      return fromYaml(true);
    }
    return fromForm(false);
  }

  function save() {
    return flush().then(function () {
      var name = flowName();
      if (!name) { say('Give the flow a name first.', true); return null; }
      return api('PUT', '/api/flows/' + encodeURIComponent(name), { text: yamlEl.value }).then(function (r) {
        if (!r.ok) { say('Not saved: ' + detail(r), true); return null; }
        root.dataset.flow = r.data.name;
        say('Saved ' + r.data.name + ' as version ' + r.data.version + '.');
        return r.data;
      });
    });
  }

  $('save-flow').addEventListener('click', function () { save(); });
  $('deploy-flow').addEventListener('click', function () {
    save().then(function (s) {
      if (!s) { return; }
      api('POST', '/api/flows/' + encodeURIComponent(s.name) + '/deploy').then(function (r) {
        if (!r.ok) { say('Not deployed: ' + detail(r), true); return; }
        say('Deployed ' + r.data.name + ' version ' + r.data.version + (r.data.enabled ? ', enabled.' : ', disabled.'));
      });
    });
  });
  ['enable', 'disable'].forEach(function (what) {
    $(what + '-flow').addEventListener('click', function () {
      var name = root.dataset.flow || flowName();
      api('POST', '/api/flows/' + encodeURIComponent(name) + '/' + what).then(function (r) {
        if (!r.ok) { say('Not ' + what + 'd: ' + detail(r) + ' (deploy it first)', true); return; }
        say(r.data.name + ' is ' + (r.data.enabled ? 'enabled' : 'disabled') + '.');
      });
    });
  });

  // Test with a sample item.
  $('sample-item').addEventListener('click', function () {
    var name = flowName();
    api('GET', '/api/runs?flow=' + encodeURIComponent(name) + '&limit=1').then(function (r) {
      if (!r.ok) { say(detail(r), true); return; }
      if (!r.data.length) { say('No run of ' + name + ' is recorded yet: paste a trigger item.', true); return; }
      $('test-item').value = JSON.stringify(r.data[0].trigger.payload, null, 2);
      say('Loaded the trigger item of run ' + r.data[0].id + '.');
    });
  });

  function block(title, value) {
    var d = document.createElement('div');
    var h = document.createElement('h3');
    h.textContent = title;
    var pre = document.createElement('pre');
    pre.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    d.appendChild(h);
    d.appendChild(pre);
    return d;
  }

  $('test-button').addEventListener('click', function () {
    var out = $('test-result');
    var item;
    try { item = JSON.parse($('test-item').value); } catch (e) {
      say('Trigger item: not JSON (' + e.message + '); paste an object like {"id": "..."}.', true);
      return;
    }
    flush().then(function () {
      out.textContent = 'Testing…';
      return api('POST', '/api/flows/' + encodeURIComponent(flowName()) + '/test', { item: item, text: yamlEl.value });
    }).then(function (r) {
      out.textContent = '';
      if (!r.ok) { out.appendChild(block('Not tested', detail(r))); return; }
      var res = r.data;
      var head = document.createElement('p');
      head.id = 'test-status';
      head.textContent = 'Status: ' + res.status + (res.failed_step ? ' (failed at ' + res.failed_step + ')' : '') + (res.error ? ': ' + res.error : '') + '. ' + res.writes.length + ' write(s) would be sent.';
      out.appendChild(head);
      res.writes.forEach(function (w, i) {
        var b = block('Write ' + (i + 1) + (w.operation ? ': ' + w.operation : ''), w);
        b.dataset.testid = 'test-write-' + i;
        out.appendChild(b);
      });
      var det = document.createElement('details');
      var sum = document.createElement('summary');
      sum.textContent = 'Each step\'s output';
      det.appendChild(sum);
      det.appendChild(block('Trace', res.trace));
      out.appendChild(det);
      out.focus();
    });
  });

  fromYaml(false);
}());
