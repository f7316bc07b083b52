#!/usr/bin/env bash
# Build the local Python kernel image without a registry:
#   debootstrap a minimal Debian bookworm rootfs with python3 (and `python`, from
#   python-is-python3) and openssh-server (the `sshd` service: the runner starts it on request with
#   per-container host keys, see agents_app/kernel_runner/bai_runner/sshd.py), add the `work` user
#   (uid 1000), and `docker import` it with Backend.AI-style kernel labels.
#
# Idempotent and cached: the recipe is this script itself. Its hash is stored in the image (label
# org.backendai-django.image-recipe) and in the rootfs cache's marker file; the image is rebuilt
# when the tag is missing or carries another hash (so editing this script rebuilds it everywhere,
# CI included), and the rootfs is re-debootstrapped when its marker holds another hash.
# BAI_IMAGE_REBUILD=1 forces a rebuild.
#
# Environment:
#   BAI_IMAGE_NAME       image repository:tag (default backendai/python:3.11-debian)
#   BAI_IMAGE_ALIAS      extra tag applied to the same image (default backendai/python:latest; "" = none)
#   BAI_ROOTFS_DIR       rootfs cache dir (default <repo>/.data/rootfs)
#   BAI_DEBIAN_MIRROR    Debian mirror (default: first deb.debian.org-style URI in the apt sources)
#   BAI_IMAGE_REBUILD=1  rebuild even when the image is up to date
#   BAI_ROOTFS_ONLY=1    only prepare the rootfs cache (no Docker needed): the slow debootstrap can
#                        run while other Docker users hold the machine, the import later is quick
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_NAME="${BAI_IMAGE_NAME:-backendai/python:3.11-debian}"
IMAGE_ALIAS="${BAI_IMAGE_ALIAS-backendai/python:latest}"
ROOTFS_DIR="${BAI_ROOTFS_DIR:-$REPO_ROOT/.data/rootfs}"
SUITE="bookworm"
PACKAGES="python3,python-is-python3,openssh-server"
RECIPE_LABEL="org.backendai-django.image-recipe"
RECIPE="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"

fail() {
    echo "build_kernel_image: $*" >&2
    exit 1
}
log() {
    echo "build_kernel_image: $*" >&2
}

ROOTFS_ONLY="${BAI_ROOTFS_ONLY:-0}"
if [[ "$ROOTFS_ONLY" != "1" ]]; then
    docker info >/dev/null 2>&1 || fail "docker is not available (run scripts/ensure_docker.sh first)"
fi

mkdir -p "$(dirname "$ROOTFS_DIR")"
exec 9>"$(dirname "$ROOTFS_DIR")/.build_kernel_image.lock"
command -v flock >/dev/null 2>&1 && flock -w 900 9

image_recipe() {
    docker image inspect --format "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$1" 2>/dev/null || true
}

if [[ "$ROOTFS_ONLY" != "1" && "${BAI_IMAGE_REBUILD:-0}" != "1" ]] \
    && [[ "$(image_recipe "$IMAGE_NAME")" == "$RECIPE" ]]; then
    if [[ -n "$IMAGE_ALIAS" && "$(image_recipe "$IMAGE_ALIAS")" != "$RECIPE" ]]; then
        docker tag "$IMAGE_NAME" "$IMAGE_ALIAS"
    fi
    log "image $IMAGE_NAME is up to date (recipe $RECIPE)"
    exit 0
fi

pick_mirror() {
    if [[ -n "${BAI_DEBIAN_MIRROR:-}" ]]; then
        echo "$BAI_DEBIAN_MIRROR"
        return
    fi
    local uri
    # deb822 sources (URIs: ...) first, then one-line sources; skip security and third-party repos.
    uri="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')" || true
    echo "${uri:-http://deb.debian.org/debian}"
}

MARKER="$ROOTFS_DIR/.bai-rootfs-complete"
if [[ "$(cat "$MARKER" 2>/dev/null || true)" != "$RECIPE" ]]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        [[ "$(id -u)" -eq 0 ]] || fail "debootstrap is missing and we are not root to install it"
        log "installing debootstrap"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || fail "apt-get update failed"
        apt-get install -y -qq debootstrap >/dev/null || fail "apt-get install debootstrap failed"
    fi
    [[ "$(id -u)" -eq 0 ]] || fail "debootstrap needs root"
    MIRROR="$(pick_mirror)"
    log "debootstrapping $SUITE from $MIRROR into $ROOTFS_DIR"
    rm -rf "$ROOTFS_DIR"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS_DIR" "$MIRROR" \
        >"$ROOTFS_DIR.debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $ROOTFS_DIR.debootstrap.log"
    chroot "$ROOTFS_DIR" /usr/sbin/groupadd -g 1000 work
    chroot "$ROOTFS_DIR" /usr/sbin/useradd -u 1000 -g 1000 -m -d /home/work -s /bin/bash work
    # `*`: no password can log in, yet the account is not locked (`!`), which sshd would refuse
    # even for a public key.
    chroot "$ROOTFS_DIR" /usr/sbin/usermod -p '*' work
    # The host keys openssh-server's postinst made would be shared by every container of the
    # image; the runner makes a container's own when it starts sshd.
    rm -f "$ROOTFS_DIR"/etc/ssh/ssh_host_*
    [[ -x "$ROOTFS_DIR/usr/sbin/sshd" && -x "$ROOTFS_DIR/usr/bin/ssh-keygen" ]] \
        || fail "openssh-server did not install sshd and ssh-keygen"
    [[ "$(readlink -f "$ROOTFS_DIR/usr/bin/python")" == "$(readlink -f "$ROOTFS_DIR/usr/bin/python3")" ]] \
        || fail "python-is-python3 did not link python to python3"
    mkdir -p "$ROOTFS_DIR/opt/bai"
    # Trim what a kernel never needs.
    rm -rf "$ROOTFS_DIR"/var/cache/apt/archives/*.deb "$ROOTFS_DIR"/var/lib/apt/lists/* \
        "$ROOTFS_DIR"/usr/share/doc/* "$ROOTFS_DIR"/usr/share/man/* "$ROOTFS_DIR"/usr/share/info/*
    find "$ROOTFS_DIR/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' \
        -exec rm -rf {} + 2>/dev/null || true
    echo "$RECIPE" >"$MARKER"
fi
if [[ "$ROOTFS_ONLY" == "1" ]]; then
    log "rootfs $ROOTFS_DIR is ready (recipe $RECIPE)"
    exit 0
fi

PY_VERSION="$(chroot "$ROOTFS_DIR" /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
log "importing rootfs (python $PY_VERSION) as $IMAGE_NAME"
# Service ports, Backend.AI format: comma list of name:protocol:port.
#   terminal  pty   7681  terminal served by the kernel runner (bash on a PTY), opened only through
#                         a tunnel on the runner's authenticated port: nothing listens on 7681
#   http      http  8080  python3 -m http.server serving /home/work
#   sshd      tcp   2200  OpenSSH's sshd as the kernel's user, public keys only (the owner's SSH
#                         keypair is written into the home folder when the kernel is created)
SERVICE_PORTS="terminal:pty:7681,http:http:8080,sshd:tcp:2200"
tar -C "$ROOTFS_DIR" --exclude=./.bai-rootfs-complete -c . | docker import \
    --change "LABEL ai.backend.kernelspec=1" \
    --change "LABEL ai.backend.features=\"query batch uid-match\"" \
    --change "LABEL ai.backend.service-ports=$SERVICE_PORTS" \
    --change "LABEL ai.backend.resource.min.cpu=1" \
    --change "LABEL ai.backend.resource.min.mem=64m" \
    --change "LABEL ai.backend.base-distro=debian12" \
    --change "LABEL ai.backend.runtime-type=python" \
    --change "LABEL ai.backend.runtime-path=/usr/bin/python3" \
    --change "LABEL ai.backend.python-version=$PY_VERSION" \
    --change "LABEL $RECIPE_LABEL=$RECIPE" \
    --change "ENV LANG=C.UTF-8 HOME=/home/work PYTHONUNBUFFERED=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "WORKDIR /home/work" \
    --change "USER work" \
    --change 'CMD ["/bin/bash"]' \
    --message "backendai-django kernel image (debootstrap $SUITE + $PACKAGES, recipe $RECIPE)" \
    - "$IMAGE_NAME" >/dev/null || fail "docker import failed"
if [[ -n "$IMAGE_ALIAS" ]]; then
    docker tag "$IMAGE_NAME" "$IMAGE_ALIAS"
fi
log "built $IMAGE_NAME${IMAGE_ALIAS:+ (alias $IMAGE_ALIAS)} (recipe $RECIPE)"
