#!/usr/bin/env bash
# test_metrics.sh - GET /metrics on a real `cairn server`: after a known mix
# of Open Inference Protocol requests (ok, a 400 inside infer, a 404 for an
# unknown model), the exposition must count exactly those requests and rows,
# its histograms must be consistent (cumulative buckets, +Inf == _count), the
# HTTP counters must show 200 and 400, label values must be escaped, and the
# whole text must pass a strict line-by-line check of the 0.0.4 text format
# (plus `promtool check metrics` when promtool is installed).
# Needs $CAIRN, curl and node. Prints "N passed, M failed".
set -u
. "$(dirname "$0")/lib/server.sh"
src="${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
csv="$src/examples/breast_cancer/breast_cancer.csv"
command -v node >/dev/null || it_fail "node not found"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "not ok: $*" >&2; }

home=$(it_tmpdir)
work=$(it_tmpdir)
cairn_server_start "$home"
cd "$work" || exit 1
CAIRN_TRACKING_URI="$CAIRN_URL" "$CAIRN" train --data "$csv" --target diagnosis --model logistic \
    --experiment m --register bc --out "$work/m" >"$work/train.out" 2>&1 && ok ||
    { bad "train and register"; cat "$work/train.out" >&2; }

# body N [WIDTH]: an infer request with the first N rows of the CSV, WIDTH
# (default 30) features per row.
body() {
    node -e '
      const fs = require("fs");
      const [csv, n, w] = [process.argv[1], +process.argv[2], +process.argv[3]];
      const rows = fs.readFileSync(csv, "utf8").trim().split("\n").slice(1, 1 + n);
      const data = rows.flatMap((r) => r.split(",").slice(0, w).map(Number));
      process.stdout.write(JSON.stringify({ inputs: [{ name: "input-0", shape: [n, w], datatype: "FP64", data }] }));
    ' "$csv" "$1" "${2:-30}"
}

# infer PATH-NAME BODY: POSTs, prints the status.
infer() {
    curl -s -o "$work/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$2" "$CAIRN_URL/v2/models/$1/infer"
}

rows=0
for n in 1 3 5; do
    st=$(infer bc "$(body $n)")
    [ "$st" = 200 ] && ok || bad "infer $n rows: status $st $(cat "$work/resp")"
    rows=$((rows + n))
done
st=$(infer bc "$(body 2 29)")
[ "$st" = 400 ] && ok || bad "bad shape: status $st, want 400"
st=$(infer nosuchmodel "$(body 1)")
[ "$st" = 404 ] && ok || bad "unknown model: status $st, want 404"

# A second name for version 1 holding a quote and a backslash: its label
# value must come out escaped.
src_uri=$(mlflow_get model-versions/get "name=bc&version=1" |
    node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).model_version.source))')
weird='we"ird\name'
mlflow_post registered-models/create "{\"name\":\"we\\\"ird\\\\name\"}" >/dev/null && ok || bad "create odd name"
mlflow_post model-versions/create "{\"name\":\"we\\\"ird\\\\name\",\"source\":\"$src_uri\"}" >/dev/null && ok ||
    bad "version of odd name"
st=$(infer 'we%22ird%5Cname' "$(body 2)")
[ "$st" = 200 ] && ok || bad "infer odd name: status $st $(cat "$work/resp")"

ctype=$(curl -s -o "$work/metrics" -w '%{content_type}' "$CAIRN_URL/metrics")
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] && ok || bad "content type '$ctype'"

# The strict check: prints one "ok NAME" or "not ok NAME: why" per check.
node - "$work/metrics" "$rows" "$weird" >"$work/checks" 2>&1 <<'EOF'
const fs = require("fs");
const [file, rowsStr, weird] = process.argv.slice(2);
const text = fs.readFileSync(file, "utf8");
const out = [];
const check = (name, cond, why = "") => out.push(cond ? `ok ${name}` : `not ok ${name}: ${why}`);

// ---- parse, strictly (text format 0.0.4) ----
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LNAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)$/;
const families = new Map(); // name -> {type, help, samples: []}
const errors = [];
let current = null; // family whose samples are being read
const closed = new Set();
const seen = new Set();
function familyOf(metric) {
  for (const suf of ["_bucket", "_sum", "_count"]) {
    const base = metric.endsWith(suf) ? metric.slice(0, -suf.length) : null;
    if (base && families.get(base)?.type === "histogram") return base;
  }
  return metric;
}
function parseLabels(s, lineNo) {
  // s starts after "{"; returns [labels, rest after "}"]
  const labels = {};
  let i = 0;
  for (;;) {
    if (s[i] === "}") return [labels, s.slice(i + 1)];
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`line ${lineNo}: bad label at '${s.slice(i, i + 20)}'`);
    if (!LNAME.test(m[1])) throw new Error(`line ${lineNo}: bad label name`);
    i += m[0].length;
    let v = "";
    for (;;) {
      const c = s[i++];
      if (c === undefined) throw new Error(`line ${lineNo}: unterminated label value`);
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i++];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else throw new Error(`line ${lineNo}: bad escape \\${e}`);
      } else v += c;
    }
    if (m[1] in labels) throw new Error(`line ${lineNo}: duplicate label ${m[1]}`);
    labels[m[1]] = v;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") throw new Error(`line ${lineNo}: expected , or } after label`);
  }
}
try {
  if (!text.endsWith("\n")) throw new Error("text does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, idx) => {
    const n = idx + 1;
    if (line === "") throw new Error(`line ${n}: empty line`);
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${n}: bad metric name ${name}`);
      if (closed.has(name)) throw new Error(`line ${n}: family ${name} appears twice`);
      if (current && current !== name) closed.add(current);
      current = name;
      const f = families.get(name) || { samples: [] };
      families.set(name, f);
      if (kind === "HELP") {
        if (f.help !== undefined) throw new Error(`line ${n}: second HELP for ${name}`);
        if (/\\(?![\\n])/.test(rest)) throw new Error(`line ${n}: bad escape in HELP`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`line ${n}: second TYPE for ${name}`);
        if (f.samples.length) throw new Error(`line ${n}: TYPE after samples of ${name}`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest))
          throw new Error(`line ${n}: bad type ${rest}`);
        f.type = rest;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{?)(.*)$/.exec(line);
    if (!m) throw new Error(`line ${n}: bad sample line`);
    let [, metric, brace, rest] = m;
    let labels = {};
    if (brace) [labels, rest] = parseLabels(rest, n);
    const parts = rest.split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3)
      throw new Error(`line ${n}: expected ' value [timestamp]'`);
    if (!VALUE.test(parts[1])) throw new Error(`line ${n}: bad value ${parts[1]}`);
    if (parts.length === 3 && !/^-?\d+$/.test(parts[2])) throw new Error(`line ${n}: bad timestamp`);
    const fam = familyOf(metric);
    const f = families.get(fam);
    if (!f || !f.type) throw new Error(`line ${n}: sample of ${fam} without TYPE`);
    if (fam !== current) throw new Error(`line ${n}: sample of ${fam} outside its family block`);
    const key = metric + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`line ${n}: duplicate series ${key}`);
    seen.add(key);
    const value = Number(parts[1].replace("Inf", "Infinity"));
    if (f.type === "counter" && !(value >= 0)) throw new Error(`line ${n}: negative counter`);
    if (f.type === "histogram" && metric === fam) throw new Error(`line ${n}: bare histogram sample`);
    if (f.type === "histogram" && metric.endsWith("_bucket") && !("le" in labels))
      throw new Error(`line ${n}: bucket without le`);
    f.samples.push({ metric, labels, value });
  });
  check("text parses strictly", true);
} catch (e) {
  check("text parses strictly", false, e.message);
}
for (const [name, f] of families) {
  if (f.help === undefined || f.type === undefined) check(`HELP and TYPE for ${name}`, false, "missing");
}

// ---- histograms: cumulative, sorted le, +Inf == _count ----
function histogram(fam, labelsWanted) {
  const f = families.get(fam);
  if (!f) return null;
  const match = (l) => Object.entries(labelsWanted).every(([k, v]) => l[k] === v);
  const buckets = f.samples.filter((s) => s.metric === fam + "_bucket" && match(s.labels));
  const count = f.samples.find((s) => s.metric === fam + "_count" && match(s.labels));
  const sum = f.samples.find((s) => s.metric === fam + "_sum" && match(s.labels));
  return { buckets, count: count?.value, sum: sum?.value };
}
for (const [name, f] of families) {
  if (f.type !== "histogram") continue;
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    if (!groups.has(k)) groups.set(k, rest);
  }
  for (const [k, labels] of groups) {
    const h = histogram(name, labels);
    const les = h.buckets.map((b) => Number(b.labels.le.replace("Inf", "Infinity")));
    const sorted = les.every((x, i) => i === 0 || x > les[i - 1]);
    const cumulative = h.buckets.every((b, i) => i === 0 || b.value >= h.buckets[i - 1].value);
    const last = h.buckets[h.buckets.length - 1];
    check(`${name}${k} le sorted`, sorted && les.every((x) => !Number.isNaN(x)), les.join(","));
    check(`${name}${k} buckets cumulative`, cumulative, h.buckets.map((b) => b.value).join(","));
    check(`${name}${k} ends with +Inf == _count`, last && last.labels.le === "+Inf" && last.value === h.count,
      `last=${JSON.stringify(last)} count=${h.count}`);
    check(`${name}${k} has _sum >= 0`, h.sum >= 0, `sum=${h.sum}`);
  }
}

// ---- values ----
const val = (metric, labels) => {
  const fam = familyOf(metric);
  const f = families.get(fam);
  const s = f?.samples.find((x) => x.metric === metric &&
    Object.keys(labels).length === Object.keys(x.labels).length &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
};
const bc = { deployment: "", model: "bc", version: "1" };
const eq = (name, got, want) => check(name, got === want, `got ${got}, want ${want}`);
eq("requests ok", val("cairn_inference_requests_total", { ...bc, code: "200" }), 3);
eq("requests error", val("cairn_inference_requests_total", { ...bc, code: "400" }), 1);
eq("errors", val("cairn_inference_errors_total", bc), 1);
eq("batch sizes counted", histogram("cairn_inference_batch_rows", bc)?.count, 3);
eq("rows", val("cairn_inference_rows_total", bc), Number(rowsStr));
eq("duration _count == requests", histogram("cairn_inference_duration_seconds", bc)?.count, 4);
eq("compute _count == predictions", histogram("cairn_inference_compute_seconds", bc)?.count, 3);
const d = histogram("cairn_inference_duration_seconds", bc);
eq("duration buckets 50us..5s plus +Inf", d?.buckets.map((b) => b.labels.le).join(" "),
  "5e-05 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 +Inf");
check("duration _sum >= compute _sum", d?.sum >= histogram("cairn_inference_compute_seconds", bc)?.sum);
eq("unknown model has no series",
  families.get("cairn_inference_requests_total")?.samples.some((s) => s.labels.model === "nosuchmodel"), false);
eq("escaped model label round-trips", val("cairn_inference_requests_total",
  { deployment: "", model: weird, version: "1", code: "200" }), 1);
check("escaped label is written escaped", text.includes('model="we\\"ird\\\\name"'), "raw text lacks it");
eq("models loaded", val("cairn_models_loaded", {}), 2);
check("responses 200", val("cairn_http_responses_total", { code: "200" }) >= 5);
eq("responses 400", val("cairn_http_responses_total", { code: "400" }), 1);
check("responses 404", val("cairn_http_responses_total", { code: "404" }) >= 1);
check("resident memory > 1 MiB", val("process_resident_memory_bytes", {}) > 1 << 20);
const start = val("process_start_time_seconds", {}), now = Date.now() / 1000;
check("start time is recent", start > now - 600 && start <= now + 1, `start=${start} now=${now}`);
eq("build info", families.get("cairn_build_info")?.samples.length === 1 &&
  families.get("cairn_build_info").samples[0].value === 1 &&
  /^\d+\.\d+/.test(families.get("cairn_build_info").samples[0].labels.version), true);
for (const [fam, type] of [["cairn_http_responses_total", "counter"], ["cairn_inference_requests_total", "counter"],
  ["cairn_inference_rows_total", "counter"], ["cairn_inference_duration_seconds", "histogram"],
  ["cairn_inference_compute_seconds", "histogram"], ["cairn_models_loaded", "gauge"],
  ["process_resident_memory_bytes", "gauge"], ["process_start_time_seconds", "gauge"], ["cairn_build_info", "gauge"]])
  eq(`family ${fam} is a ${type}`, families.get(fam)?.type, type);
console.log(out.join("\n"));
EOF
while IFS= read -r line; do
    case "$line" in
    "ok "*) ok ;;
    "not ok "*) bad "${line#not ok }" ;;
    *) bad "checker: $line" ;;
    esac
done <"$work/checks"
[ -s "$work/checks" ] || bad "checker printed nothing"

if command -v promtool >/dev/null; then
    promtool check metrics <"$work/metrics" >"$work/promtool.out" 2>&1 && ok ||
        { bad "promtool check metrics"; cat "$work/promtool.out" >&2; }
else
    echo "promtool not installed: skipping promtool check metrics" >&2
fi

# A second scrape sees its predecessor's 200 and no change in inference counts.
curl -fsS "$CAIRN_URL/metrics" >"$work/metrics2" && ok || bad "second scrape"
grep -qx 'cairn_inference_requests_total{deployment="",model="bc",version="1",code="200"} 3' "$work/metrics2" && ok ||
    bad "counts stable across scrapes"

cairn_server_stop
[ "$fail" -eq 0 ] || { echo "--- metrics text ---" >&2; cat "$work/metrics" >&2; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
