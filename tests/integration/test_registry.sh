#!/usr/bin/env bash
# test_registry.sh - the model registry REST routes and the mlflow-artifacts
# proxy against a real `cairn server` on 127.0.0.1 with a temporary home.
# Needs $CAIRN (the binary; set by ctest), curl and python3. Prints
# "N passed, M failed" and exits non-zero on any failure.
set -u

: "${CAIRN:?set CAIRN to the cairn binary}"
command -v curl >/dev/null || { echo "curl not found"; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found"; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$CAIRN" server --home "$tmp/home" --port 0 --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 20))
while [ ! -s "$tmp/port" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "server exited:"; cat "$tmp/server.log"; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "server did not start"; cat "$tmp/server.log"; exit 1; fi
    sleep 0.05
done
port=$(cat "$tmp/port")
host="http://127.0.0.1:$port"
api="$host/api/2.0/mlflow"
art="$host/api/2.0/mlflow-artifacts/artifacts"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# req METHOD URL [JSON]: sets $status and $body
req() {
    local args=(-s --path-as-is -o "$tmp/body" -w '%{http_code}' -X "$1" "$2")
    if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
    status=$(curl "${args[@]}")
    body=$(cat "$tmp/body")
}

# expect STATUS NAME [PYTHON-EXPR over j (parsed body)]
expect() {
    local want=$1 name=$2 expr=${3:-True}
    if [ "$status" != "$want" ]; then bad "$name: status $status, want $want: $body"; return; fi
    if printf '%s' "$body" | python3 -c "
import json, sys
j = json.loads(sys.stdin.read() or '{}')
sys.exit(0 if ($expr) else 1)" 2>"$tmp/py.err"; then ok; else
        bad "$name: check '$expr' failed on: $body $(cat "$tmp/py.err")"
    fi
}

# ---------------- registered models ----------------
req POST "$api/registered-models/create" '{"name":"m1","description":"first","tags":[{"key":"team","value":"a"}]}'
expect 200 "create model" "j['registered_model']['name']=='m1' and j['registered_model']['description']=='first' and j['registered_model']['tags']==[{'key':'team','value':'a'}] and j['registered_model']['creation_timestamp']>0"
req POST "$api/registered-models/create" '{"name":"m1"}'
expect 400 "duplicate model" "j['error_code']=='RESOURCE_ALREADY_EXISTS' and j['message']=='Registered Model (name=m1) already exists.'"
req POST "$api/registered-models/create" '{"name":""}'
expect 400 "empty name" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/registered-models/create" '{}'
expect 400 "missing name" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/registered-models/create" '{"name":"m2"}'
expect 200 "create m2"
req GET "$api/registered-models/get?name=m1"
expect 200 "get model" "j['registered_model']['name']=='m1' and j['registered_model']['latest_versions']==[]"
req GET "$host/ajax-api/2.0/mlflow/registered-models/get?name=m1"
expect 200 "get model (ajax-api)" "j['registered_model']['name']=='m1'"
req GET "$api/registered-models/get?name=nope"
expect 404 "get missing model" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req POST "$api/registered-models/update" '{"name":"m1","description":"x"}'
expect 405 "update needs PATCH"
req PATCH "$api/registered-models/update" '{"name":"m1","description":"updated"}'
expect 200 "update model" "j['registered_model']['description']=='updated'"
req PATCH "$api/registered-models/update" '{"name":"nope","description":"x"}'
expect 404 "update missing model" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req POST "$api/registered-models/set-tag" '{"name":"m1","key":"stage","value":"dev"}'
expect 200 "set model tag" "j=={}"
req POST "$api/registered-models/set-tag" '{"name":"m1","key":"stage","value":"prod"}'
expect 200 "overwrite model tag"
req POST "$api/registered-models/set-tag" '{"name":"nope","key":"k","value":"v"}'
expect 404 "set tag on missing model" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req POST "$api/registered-models/set-tag" '{"name":"m1","key":"../x","value":"v"}'
expect 400 "bad tag key" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$api/registered-models/get?name=m1"
expect 200 "model tags" "sorted((t['key'],t['value']) for t in j['registered_model']['tags'])==[('stage','prod'),('team','a')]"
req DELETE "$api/registered-models/delete-tag" '{"name":"m1","key":"team"}'
expect 200 "delete model tag (JSON body)"
req DELETE "$api/registered-models/delete-tag?name=m1&key=absent"
expect 200 "delete absent model tag (query args)"
req GET "$api/registered-models/get?name=m1"
expect 200 "model tag deleted" "j['registered_model']['tags']==[{'key':'stage','value':'prod'}]"

# ---------------- model versions ----------------
req POST "$api/model-versions/create" '{"name":"nope","source":"s"}'
expect 404 "version of missing model" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req POST "$api/model-versions/create" '{"name":"m1"}'
expect 400 "version without source" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/model-versions/create" '{"name":"m1","source":"mlflow-artifacts:/1/r1/artifacts/model","run_id":"r1","run_link":"http://x/r1","description":"v1","tags":[{"key":"k","value":"v"}]}'
expect 200 "create version 1" "j['model_version']['version']=='1' and j['model_version']['current_stage']=='None' and j['model_version']['status']=='READY' and j['model_version']['run_id']=='r1' and j['model_version']['run_link']=='http://x/r1' and j['model_version']['tags']==[{'key':'k','value':'v'}]"
for v in 2 3; do
    req POST "$api/model-versions/create" "{\"name\":\"m1\",\"source\":\"src$v\",\"run_id\":\"r$v\"}"
    expect 200 "create version $v" "j['model_version']['version']=='$v'"
done
req POST "$api/model-versions/create" '{"name":"m2","source":"other"}'
expect 200 "versions count per model" "j['model_version']['version']=='1'"
req GET "$api/model-versions/get?name=m1&version=2"
expect 200 "get version" "j['model_version']['source']=='src2' and j['model_version']['name']=='m1'"
req GET "$api/model-versions/get?name=m1&version=9"
expect 404 "get missing version" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$api/model-versions/get?name=m1&version=abc"
expect 400 "non-integer version" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req PATCH "$api/model-versions/update" '{"name":"m1","version":"1","description":"better"}'
expect 200 "update version" "j['model_version']['description']=='better'"
req GET "$api/model-versions/get-download-uri?name=m1&version=1"
expect 200 "download uri" "j=={'artifact_uri':'mlflow-artifacts:/1/r1/artifacts/model'}"
req POST "$api/model-versions/set-tag" '{"name":"m1","version":"2","key":"q","value":"good"}'
expect 200 "set version tag"
req POST "$api/model-versions/set-tag" '{"name":"m1","version":"7","key":"q","value":"x"}'
expect 404 "tag on missing version" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$api/model-versions/get?name=m1&version=2"
expect 200 "version tag visible" "j['model_version']['tags']==[{'key':'q','value':'good'}]"
req DELETE "$api/model-versions/delete-tag" '{"name":"m1","version":"2","key":"q"}'
expect 200 "delete version tag"
req GET "$api/model-versions/get?name=m1&version=2"
expect 200 "version tag gone" "j['model_version']['tags']==[]"

# ---------------- stages ----------------
req POST "$api/model-versions/transition-stage" '{"name":"m1","version":"1","stage":"production","archive_existing_versions":false}'
expect 200 "transition (case-insensitive)" "j['model_version']['current_stage']=='Production'"
req POST "$api/model-versions/transition-stage" '{"name":"m1","version":"2","stage":"Bogus","archive_existing_versions":false}'
expect 400 "bad stage" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/model-versions/transition-stage" '{"name":"m1","version":"2","stage":"Archived","archive_existing_versions":true}'
expect 400 "archive_existing only for active stages" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/model-versions/transition-stage" '{"name":"m1","version":"2","stage":"Production","archive_existing_versions":true}'
expect 200 "transition with archive" "j['model_version']['current_stage']=='Production'"
req GET "$api/model-versions/get?name=m1&version=1"
expect 200 "previous production archived" "j['model_version']['current_stage']=='Archived'"
req POST "$api/model-versions/transition-stage" '{"name":"m1","version":"3","stage":"Staging","archive_existing_versions":false}'
expect 200 "to staging"
req GET "$api/registered-models/get-latest-versions?name=m1"
expect 200 "latest versions (GET)" "sorted((v['current_stage'],v['version']) for v in j['model_versions'])==[('Archived','1'),('Production','2'),('Staging','3')]"
req POST "$api/registered-models/get-latest-versions" '{"name":"m1","stages":["production"]}'
expect 200 "latest versions (POST, stage filter)" "[(v['current_stage'],v['version']) for v in j['model_versions']]==[('Production','2')]"
req GET "$api/registered-models/get-latest-versions?name=m1&stages=Nope"
expect 400 "latest versions bad stage" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$api/registered-models/get-latest-versions?name=nope"
expect 404 "latest versions missing model" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$api/registered-models/get?name=m1"
expect 200 "latest_versions in model" "sorted(v['version'] for v in j['registered_model']['latest_versions'])==['1','2','3']"

# ---------------- aliases ----------------
req POST "$api/registered-models/alias" '{"name":"m1","alias":"champion","version":"2"}'
expect 200 "set alias"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"latest","version":"2"}'
expect 400 "reserved alias latest" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"v3","version":"2"}'
expect 400 "reserved alias v<digits>" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"x","version":"42"}'
expect 404 "alias to missing version" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$api/registered-models/alias?name=m1&alias=champion"
expect 200 "get by alias" "j['model_version']['version']=='2' and j['model_version']['aliases']==['champion']"
req GET "$api/registered-models/get?name=m1"
expect 200 "aliases in model" "j['registered_model']['aliases']==[{'alias':'champion','version':'2'}]"
req GET "$api/registered-models/alias?name=m1&alias=nobody"
expect 400 "missing alias (MLflow: INVALID_PARAMETER_VALUE)" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"champion","version":"3"}'
expect 200 "move alias"
req GET "$api/registered-models/alias?name=m1&alias=champion"
expect 200 "alias moved" "j['model_version']['version']=='3'"
req DELETE "$api/registered-models/alias?name=m1&alias=champion"
expect 200 "delete alias"
req GET "$api/registered-models/alias?name=m1&alias=champion"
expect 400 "deleted alias gone"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"challenger","version":"3"}'
expect 200 "alias on version 3"

# ---------------- searches ----------------
req GET "$api/registered-models/search"
expect 200 "search all models" "[m['name'] for m in j['registered_models']]==['m1','m2']"
req GET "$api/registered-models/search?filter=name%20%3D%20%27m2%27"
expect 200 "search models by name" "[m['name'] for m in j['registered_models']]==['m2']"
req GET "$api/registered-models/search?filter=tags.stage%20%3D%20%27prod%27"
expect 200 "search models by tag" "[m['name'] for m in j['registered_models']]==['m1']"
req GET "$api/registered-models/search?max_results=1&order_by=name%20DESC"
expect 200 "search page 1" "[m['name'] for m in j['registered_models']]==['m2'] and 'next_page_token' in j"
tok=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_page_token"])')
req GET "$api/registered-models/search?max_results=1&order_by=name%20DESC&page_token=$tok"
expect 200 "search page 2" "[m['name'] for m in j['registered_models']]==['m1'] and 'next_page_token' not in j"
req GET "$api/registered-models/search?max_results=1001"
expect 400 "models max_results limit" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$api/registered-models/search?filter=bogus%20%3D%201"
expect 400 "bad models filter" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$api/model-versions/search?filter=name%3D%27m1%27"
expect 200 "search versions" "[v['version'] for v in j['model_versions']]==['3','2','1']"
req GET "$api/model-versions/search?filter=run_id%20IN%20(%27r1%27,%27r3%27)"
expect 200 "search versions by run_id IN" "sorted(v['version'] for v in j['model_versions'])==['1','3']"
req GET "$api/model-versions/search?filter=name%3D%27m1%27&order_by=version_number%20ASC&max_results=2"
expect 200 "versions page" "[v['version'] for v in j['model_versions']]==['1','2'] and 'next_page_token' in j"
req GET "$api/model-versions/search?max_results=200001"
expect 400 "versions max_results limit" "j['error_code']=='INVALID_PARAMETER_VALUE'"

# ---------------- deletes and renames ----------------
req DELETE "$api/model-versions/delete" '{"name":"m1","version":"3"}'
expect 200 "delete version"
req GET "$api/model-versions/get?name=m1&version=3"
expect 404 "deleted version gone" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req DELETE "$api/model-versions/delete?name=m1&version=3"
expect 404 "delete version twice"
req GET "$api/registered-models/alias?name=m1&alias=challenger"
expect 400 "alias of deleted version dropped"
req GET "$api/model-versions/search?filter=name%3D%27m1%27"
expect 200 "deleted version not searched" "sorted(v['version'] for v in j['model_versions'])==['1','2']"
req POST "$api/model-versions/create" '{"name":"m1","source":"src4"}'
expect 200 "numbers are not reused" "j['model_version']['version']=='4'"
req POST "$api/registered-models/rename" '{"name":"m1","new_name":"m2"}'
expect 400 "rename onto existing" "j['error_code']=='RESOURCE_ALREADY_EXISTS'"
req POST "$api/registered-models/rename" '{"name":"nope","new_name":"zz"}'
expect 404 "rename missing" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req POST "$api/registered-models/alias" '{"name":"m1","alias":"best","version":"4"}'
expect 200 "alias before rename"
req POST "$api/registered-models/rename" '{"name":"m1","new_name":"renamed"}'
expect 200 "rename" "j['registered_model']['name']=='renamed' and j['registered_model']['tags']==[{'key':'stage','value':'prod'}] and j['registered_model']['aliases']==[{'alias':'best','version':'4'}]"
req GET "$api/model-versions/get?name=renamed&version=4"
expect 200 "versions follow rename" "j['model_version']['name']=='renamed' and j['model_version']['aliases']==['best']"
req GET "$api/registered-models/get?name=m1"
expect 404 "old name gone"
req DELETE "$api/registered-models/delete" '{"name":"renamed"}'
expect 200 "delete model"
req GET "$api/model-versions/search?filter=name%3D%27renamed%27"
expect 200 "versions deleted with model" "j['model_versions']==[]"
req DELETE "$api/registered-models/delete?name=renamed"
expect 404 "delete model twice"
req POST "$api/registered-models/create" '{"name":"renamed"}'
expect 200 "recreate deleted name"
req POST "$api/model-versions/create" '{"name":"renamed","source":"s"}'
expect 200 "recreated model starts at 1" "j['model_version']['version']=='1'"

# ---------------- artifacts proxy ----------------
printf 'hello artifact\n' >"$tmp/small.txt"
head -c 5242880 /dev/urandom >"$tmp/big.bin"
up() { status=$(curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' -X PUT --data-binary "@$1" "$art/$2"); body=$(cat "$tmp/body"); }
up "$tmp/small.txt" "1/run1/artifacts/notes.txt"
expect 200 "upload small" "j=={}"
up "$tmp/big.bin" "1/run1/artifacts/model/weights.bin"
expect 200 "upload 5 MB"
up "$tmp/small.txt" "1/run1/artifacts/model/MLmodel"
expect 200 "upload nested"
up "$tmp/small.txt" "1/run1/artifacts/model/sub/deep.txt"
expect 200 "upload deeper"
status=$(curl -s -o "$tmp/dl.bin" -w '%{http_code}' "$art/1/run1/artifacts/model/weights.bin")
if [ "$status" = 200 ] && cmp -s "$tmp/big.bin" "$tmp/dl.bin"; then ok; else bad "download 5 MB: $status"; fi
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$art/1/run1/artifacts/notes.txt")
case "$ctype" in text/plain*) ok ;; *) bad "content type of .txt: $ctype" ;; esac
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$art/1/run1/artifacts/model/weights.bin")
[ "$ctype" = application/octet-stream ] && ok || bad "content type of .bin: $ctype"
status=$(curl -s -o "$tmp/dl.txt" -w '%{http_code}' "$host/ajax-api/2.0/mlflow-artifacts/artifacts/1/run1/artifacts/notes.txt")
if [ "$status" = 200 ] && cmp -s "$tmp/small.txt" "$tmp/dl.txt"; then ok; else bad "download (ajax-api): $status"; fi
req GET "$art/1/run1/artifacts/missing.txt"
expect 404 "download missing" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$art?path=1/run1/artifacts/model"
expect 200 "list dir" "sorted((f['path'],f['is_dir'],f.get('file_size')) for f in j['files'])==[('MLmodel',False,15),('sub',True,None),('weights.bin',False,5242880)]"
req GET "$art?path=1/run1/artifacts"
expect 200 "list parent" "sorted((f['path'],f['is_dir']) for f in j['files'])==[('model',True),('notes.txt',False)]"
req GET "$art?path=1/nothing"
expect 200 "list empty dir" "j.get('files',[])==[]"
for p in '..%2F..%2Fetc%2Fpasswd' 'a/../../b' 'a/%2e%2e/b' 'a/%252e%252e/b' 'a%5Cb' '%2Fetc%2Fpasswd'; do
    up "$tmp/small.txt" "$p"
    expect 400 "upload rejects $p" "j['error_code']=='INVALID_PARAMETER_VALUE'"
done
req GET "$art/a/%2e%2e/%2e%2e/etc/passwd"
expect 400 "download rejects traversal" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$art?path=../x"
expect 400 "list rejects traversal" "j['error_code']=='INVALID_PARAMETER_VALUE'"
req GET "$art?path=/etc"
expect 400 "list rejects absolute" "j['error_code']=='INVALID_PARAMETER_VALUE'"
up "$tmp/big.bin" "2/copy.bin"
expect 200 "upload same content elsewhere"
req DELETE "$art/1/run1/artifacts/model"
expect 200 "delete dir"
req GET "$art?path=1/run1/artifacts"
expect 200 "dir gone from listing" "[(f['path'],f['is_dir']) for f in j['files']]==[('notes.txt',False)]"
req GET "$art/1/run1/artifacts/model/MLmodel"
expect 404 "file under deleted dir gone"
status=$(curl -s -o "$tmp/dl2.bin" -w '%{http_code}' "$art/2/copy.bin")
if [ "$status" = 200 ] && cmp -s "$tmp/big.bin" "$tmp/dl2.bin"; then ok; else bad "shared blob survives delete: $status"; fi
req DELETE "$art/1/run1/artifacts/notes.txt"
expect 200 "delete file"
req GET "$art/1/run1/artifacts/notes.txt"
expect 404 "deleted file gone"

# ---------------- run-scoped listing ----------------
req POST "$api/experiments/create" '{"name":"art-exp"}'
expect 200 "create experiment"
exp=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("experiment_id",""))')
req POST "$api/runs/create" "{\"experiment_id\":\"$exp\"}"
expect 200 "create run" "j['run']['info']['artifact_uri'].startswith('mlflow-artifacts:')"
run=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["info"]["run_id"])')
root=$(printf '%s' "$body" | python3 -c 'import json,sys; u=json.load(sys.stdin)["run"]["info"]["artifact_uri"]; print(u[len("mlflow-artifacts:"):].lstrip("/"))')
up "$tmp/small.txt" "$root/model/MLmodel"
expect 200 "upload run artifact"
up "$tmp/small.txt" "$root/eval.json"
expect 200 "upload run artifact 2"
req GET "$api/artifacts/list?run_id=$run"
expect 200 "run list root" "j['root_uri'].startswith('mlflow-artifacts:') and sorted((f['path'],f['is_dir']) for f in j['files'])==[('eval.json',False),('model',True)]"
req GET "$api/artifacts/list?run_id=$run&path=model"
expect 200 "run list subdir" "[(f['path'],f['is_dir'],f['file_size']) for f in j['files']]==[('model/MLmodel',False,15)]"
req GET "$host/ajax-api/2.0/mlflow/artifacts/list?run_id=$run&path=model"
expect 200 "run list (ajax-api)" "[f['path'] for f in j['files']]==['model/MLmodel']"
req GET "$api/artifacts/list?run_id=nosuchrun"
expect 404 "run list missing run" "j['error_code']=='RESOURCE_DOES_NOT_EXIST'"
req GET "$api/artifacts/list?run_id=$run&path=../../x"
expect 400 "run list traversal" "j['error_code']=='INVALID_PARAMETER_VALUE'"
status=$(curl -s -o "$tmp/dl3.txt" -w '%{http_code}' "$host/get-artifact?run_id=$run&path=model/MLmodel")
if [ "$status" = 200 ] && cmp -s "$tmp/small.txt" "$tmp/dl3.txt"; then ok; else bad "get-artifact: $status"; fi

# a clean shutdown, and no sanitizer report (ASan/UBSan builds) in the log
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=
    [ "$rc" -eq 0 ] && ok || bad "server exit status $rc after SIGTERM"
else
    bad "server died"
fi
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/server.log"; then
    bad "sanitizer report in the server log"
    grep -A30 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/server.log" | head -60
else
    ok
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
