// The flow editor's model helpers (used by editor.js): JSON pointers into the flow's
// JSON, reading a form control's value with its type, and structural edits (kinds,
// add, remove, move). No DOM beyond reading controls.
(function () {
  'use strict';

  var STEPS = {
    filter: { all: [] },
    map: {},
    action: { operation: '' },
    find_or_create: { find: { operation: '' }, found: '', create: { operation: '' } },
    branch: { cases: [{ when: { all: [] }, steps: [] }] },
    for_each: { items: '', steps: [] },
    delay: { 'for': '10m' },
    call_flow: { name: '' }
  };
  var TRIGGERS = {
    poll: { operation: '', every: '5m' },
    webhook: { app: 'ghl', events: [] },
    schedule: { cron: '0 9 * * 1-5' }
  };

  function clone(v) { return JSON.parse(JSON.stringify(v)); }

  function parts(ptr) {
    if (!ptr) { return []; }
    return ptr.slice(1).split('/').map(function (s) {
      return s.replace(/~1/g, '/').replace(/~0/g, '~');
    });
  }

  function split(ptr) {
    var i = ptr.lastIndexOf('/');
    var last = ptr.slice(i + 1).replace(/~1/g, '/').replace(/~0/g, '~');
    return [ptr.slice(0, i), last];
  }

  function get(obj, ptr) {
    var cur = obj;
    var ks = parts(ptr);
    for (var i = 0; i < ks.length; i++) {
      if (cur === null || typeof cur !== 'object') { return undefined; }
      cur = Array.isArray(cur) ? cur[Number(ks[i])] : cur[ks[i]];
    }
    return cur;
  }

  function set(obj, ptr, value) {
    var ks = parts(ptr);
    var cur = obj;
    for (var i = 0; i < ks.length - 1; i++) {
      var k = ks[i];
      var next = cur[k];
      if (next === null || typeof next !== 'object') {
        next = /^\d+$/.test(ks[i + 1]) ? [] : {};
        cur[k] = next;
      }
      cur = next;
    }
    var last = ks[ks.length - 1];
    if (Array.isArray(cur)) { cur[Number(last)] = value; } else { cur[last] = value; }
  }

  function remove(obj, ptr) {
    var s = split(ptr);
    var parent = get(obj, s[0]);
    if (parent === null || typeof parent !== 'object') { return; }
    if (Array.isArray(parent)) { parent.splice(Number(s[1]), 1); } else { delete parent[s[1]]; }
  }

  // The value of control `el` with its declared type (data-vtype).
  function read(el) {
    var v = el.value;
    switch (el.dataset.vtype) {
      case 'number':
        return /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
      case 'boolean':
        return v === 'true' ? true : (v === 'false' ? false : v);
      case 'json':
        try { return JSON.parse(v); } catch (e) { return v; }
      case 'csv':
        return v.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
      default:
        return v;
    }
  }

  // Put control `el`'s value into `model` (an empty value removes data-remove-empty).
  function bind(model, el) {
    var empty = el.dataset.removeEmpty;
    if (empty && el.value.trim() === '') {
      remove(model, empty);
      return;
    }
    set(model, el.dataset.path, read(el));
  }

  function stripLast(ptr, suffix) {
    return ptr.slice(0, ptr.length - suffix.length);
  }

  function uniqueId(model, base) {
    var text = JSON.stringify(model);
    for (var n = 1; n < 1000; n++) {
      var id = base + '_' + n;
      if (text.indexOf('"id":"' + id + '"') < 0) { return id; }
    }
    return base + '_' + Date.now();
  }

  // A structural edit; returns an error message or ''.
  function apply(model, action, path, arg) {
    var obj;
    switch (action) {
      case 'trigger-kind':
        model.trigger = {};
        model.trigger[arg] = clone(TRIGGERS[arg]);
        return '';
      case 'step-kind':
        obj = get(model, stripLast(path, '/kind'));
        Object.keys(STEPS).forEach(function (k) { delete obj[k]; });
        obj[arg] = clone(STEPS[arg]);
        return '';
      case 'cond-mode':
        obj = get(model, stripLast(path, '/mode'));
        var list = obj.all || obj.any || [];
        delete obj.all;
        delete obj.any;
        obj[arg] = list;
        return '';
      case 'delay-mode':
        obj = get(model, stripLast(path, '/mode'));
        var d = obj['for'] || obj.until || '';
        delete obj['for'];
        delete obj.until;
        obj[arg] = arg === 'for' ? (/^\d+[smhd]$/.test(d) ? d : '10m') : d;
        return '';
      case 'on-error':
        obj = get(model, stripLast(path, '/on_error'));
        if (arg === '') { delete obj.on_error; } else if (arg === 'steps') { obj.on_error = { steps: [] }; } else { obj.on_error = arg; }
        return '';
      case 'remove':
        remove(model, path);
        return '';
      case 'up':
      case 'down':
        var s = split(path);
        var arr = get(model, s[0]);
        var i = Number(s[1]);
        var j = action === 'up' ? i - 1 : i + 1;
        if (!Array.isArray(arr) || j < 0 || j >= arr.length) { return ''; }
        var t = arr[i]; arr[i] = arr[j]; arr[j] = t;
        return '';
      case 'add-step':
        if (!STEPS[arg]) { return 'Pick the kind of the new step.'; }
        if (!Array.isArray(get(model, path))) { set(model, path, []); }
        var step = { id: uniqueId(model, arg) };
        step[arg] = clone(STEPS[arg]);
        get(model, path).push(step);
        return '';
      case 'add-key':
        var key = (arg || '').trim();
        if (!key) { return 'Type the new field name first.'; }
        obj = get(model, path);
        if (obj === null || typeof obj !== 'object') { obj = {}; set(model, path, obj); }
        if (Object.prototype.hasOwnProperty.call(obj, key)) { return 'There is already a field named ' + key + '.'; }
        obj[key] = '';
        return '';
      case 'add-event':
        var ev = (arg || '').trim();
        if (!ev) { return 'Pick the event to add first.'; }
        var evs = get(model, path);
        if (!Array.isArray(evs)) { evs = []; set(model, path, evs); }
        if (evs.indexOf(ev) >= 0) { return ev + ' is already one of the events.'; }
        evs.push(ev);
        return '';
      case 'add-cond':
      case 'add-group':
      case 'add-case':
        if (!Array.isArray(get(model, path))) { set(model, path, []); }
        get(model, path).push(action === 'add-cond' ? { value: '', op: 'exists' }
          : action === 'add-group' ? { all: [] } : { when: { all: [] }, steps: [] });
        return '';
      default:
        return 'Unknown action ' + action + '.';
    }
  }

  window.HlbFlowForm = { get: get, set: set, remove: remove, read: read, bind: bind, apply: apply };
}());
