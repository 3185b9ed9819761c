#!/usr/bin/env bash
# The Debian package as an administrator installs it and an agent uses it
# (scripts/test.sh runs this as root on a fresh Debian 12 machine, after the
# release build): the packages are built (scripts/package.sh) and pass
# lintian without errors; `dpkg -i`, after which `apt-get -f install` has
# nothing to add; the installed Seatphone started as a non-root user with the
# installed config, the browser tests' smoke subset against it, the launch
# link and `doctor` as that user; removal stops it and leaves no file
# outside the user's home (a purge takes the config too). Then the
# audio-only package: only the audio plugin loads.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
user=seatphone-ci
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
step() { echo "== package: $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "test-package: skipped: needs root (dpkg -i, a test user)"
    exit 0
fi
for p in seatphone seatphone-audio; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        fail "$p is installed on this machine; this test installs and purges it"
    fi
done

step "build the packages from the release build"
scripts/package.sh --profile release --no-build --fast
version=$(dpkg-deb -f target/debian/seatphone_*.deb Version)
deb=$(ls target/debian/seatphone_"$version"_*.deb)
deb_audio=$(ls target/debian/seatphone-audio_"$version"_*.deb)

step "lintian (no errors)"
# As nobody (lintian warns about running as root), on copies nobody can read
# wherever the checkout is.
lint=$(mktemp -d)
chmod 755 "$lint"
cp "$deb" "$deb_audio" "$lint/"
chmod 644 "$lint"/*.deb
setpriv --reuid=65534 --regid=65534 --clear-groups -- lintian --fail-on error "$lint"/*.deb
rm -r "$lint"
desktop-file-validate packaging/seatphone.desktop packaging/seatphone-autostart.desktop

cleanup() {
    set +e
    dpkg --purge seatphone seatphone-audio >/dev/null 2>&1
    if id "$user" >/dev/null 2>&1; then
        for pid in $(pgrep -u "$user"); do kill -KILL "$pid" 2>/dev/null; done
        userdel -r "$user" >/dev/null 2>&1
    fi
    [ -z "${runtime:-}" ] || rm -rf "$runtime"
}
trap cleanup EXIT
cleanup

step "dpkg -i, then apt-get -f install has nothing to add"
dpkg -i "$deb"
to_add=$(apt-get -s -f install | grep -E '^(Inst|Remv) ' || true)
[ -z "$to_add" ] || fail "apt-get -f install would change: $to_add"
dpkg -L seatphone | sort > /tmp/seatphone-files.$$
grep -qx /usr/lib/seatphone/plugins/libseatphone_audio.so /tmp/seatphone-files.$$ || fail "no audio plugin installed"
grep -qx /etc/seatphone/seatphone.toml /tmp/seatphone-files.$$ || fail "no config in /etc/seatphone"
grep -q 'x-scheme-handler/openeyewebapishell=.*seatphone.desktop' /usr/share/applications/mimeinfo.cache \
    || fail "the desktop database does not know the OpenEyeWebApiShell: handler"
grep -q 'x-scheme-handler/seatphone=.*seatphone.desktop' /usr/share/applications/mimeinfo.cache \
    || fail "the desktop database does not know the seatphone: handler"

step "root is refused"
if out=$(/usr/bin/seatphone --mode 2 2>&1); then fail "seatphone started as root: $out"; fi
echo "$out" | grep -q "not as root" || fail "root refusal does not say why: $out"

step "a desktop user starts the installed Seatphone with the installed config"
useradd --create-home --shell /bin/sh "$user"
home=$(getent passwd "$user" | cut -d: -f6)
# The session's runtime folder, as logind makes it at login (sound servers keep their sockets there).
runtime=/run/user/$(id -u "$user")
install -d -m 700 -o "$user" -g "$user" "$runtime"
as_user() { runuser -u "$user" -- env -i HOME="$home" XDG_RUNTIME_DIR="$runtime" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=7684 daemon_port=7682
if port_in_use $port || port_in_use $daemon_port; then
    # Someone else's Seatphone on this machine: the user's config moves ours.
    port=17684 daemon_port=17682
    as_user mkdir -p "$home/.config/seatphone"
    printf '[api]\nport = %s\ndaemon_port = %s\n' $port $daemon_port | as_user tee "$home/.config/seatphone/seatphone.toml" >/dev/null
    echo "ports 7682/7684 are taken on this machine: the user's config moves them to $daemon_port/$port"
fi
# The autostart entry's command, as the session would run it.
autostart=$(sed -n 's/^Exec=//p' /etc/xdg/autostart/seatphone.desktop)
[ "$autostart" = "seatphone --mode 2" ] || fail "autostart runs: $autostart"
as_user setsid $autostart > /tmp/seatphone-ci.out.$$ 2>&1 < /dev/null &
for _ in $(seq 100); do
    if port_in_use $port && port_in_use $daemon_port; then break; fi
    sleep 0.2
done
port_in_use $port || { cat /tmp/seatphone-ci.out.$$; fail "the installed Seatphone does not listen on $port"; }
state="$home/.local/state/seatphone"
[ -f "$state/instance.lock" ] || fail "no instance lock in $state"
grep -q "config: /etc/seatphone/seatphone.toml" "$state/daemon.log" || fail "the installed config was not read: $(head -5 "$state/daemon.log")"
pgrep -u "$user" -x seatphone >/dev/null || fail "Seatphone does not run as $user"
if pgrep -u root -x seatphone >/dev/null; then
    pgrep -a -u root -x seatphone
    echo "(a root-owned seatphone on this machine is not ours: the tests run the build tree's with --config)"
fi

step "the launch link, as the desktop entry runs it, starts nothing more"
exec_line=$(sed -n 's/^Exec=//p' /usr/share/applications/seatphone.desktop)
[ "$exec_line" = "seatphone launch %u" ] || fail "the URL handler runs: $exec_line"
out=$(as_user seatphone launch 'OpenEyeWebApiShell://-mode,2/')
echo "$out" | grep -q "already running" || fail "a second launch did not say so: $out"
[ "$(pgrep -u "$user" -x seatphone | wc -l)" = 2 ] || fail "not one daemon and one engine: $(pgrep -a -u "$user" -x seatphone)"

step "doctor as the user (before any page configured a SIP server)"
if ! report=$(as_user seatphone doctor); then echo "$report"; fail "doctor failed on a healthy seat"; fi
echo "$report"
echo "$report" | grep -q "^ok    instance   running" || fail "doctor does not see the running Seatphone"
echo "$report" | grep -q "^ok    plugins    .*audio" || fail "doctor does not list the audio plugin"

step "browser smoke tests against the installed Seatphone"
(cd tests/browser && SEATPHONE_ATTACH="$port,$daemon_port" SEATPHONE_ATTACH_LOGS="$state" \
    node --test --test-concurrency=1 --test-name-pattern='\[smoke\]' api.test.js)

step "removal stops Seatphone and leaves nothing outside the user's home"
apt-get remove -y -q seatphone > /dev/null
sleep 0.5
if pgrep -u "$user" -x seatphone >/dev/null; then fail "Seatphone still runs after removal: $(pgrep -a -u "$user" seatphone)"; fi
for exe in /proc/[0-9]*/exe; do
    case "$(readlink "$exe" 2>/dev/null)" in /usr/bin/seatphone*) fail "a process still runs /usr/bin/seatphone: ${exe%/exe}";; esac
done
conffiles="/etc/seatphone/seatphone.toml /etc/xdg/autostart/seatphone.desktop"
while read -r f; do
    if [ -f "$f" ] && ! [[ " $conffiles " == *" $f "* ]]; then fail "left after removal: $f"; fi
done < /tmp/seatphone-files.$$
dpkg --purge seatphone > /dev/null
while read -r f; do
    if [ -f "$f" ]; then fail "left after purge: $f"; fi
done < /tmp/seatphone-files.$$
[ ! -e /etc/seatphone ] || fail "/etc/seatphone left after purge"
others=$(pgrep -a -u "$user" || true)
[ -z "$others" ] || echo "other processes of $user (its session's, not Seatphone's): $others"
leftovers=$(find /etc /usr /var /opt /srv /tmp /dev/shm /run -xdev -user "$user" -not -path "$runtime*" 2>/dev/null | head)
[ -z "$leftovers" ] || fail "files of $user outside the home: $leftovers"
rm -f /tmp/seatphone-files.$$ /tmp/seatphone-ci.out.$$

step "the audio-only package loads the audio plugin only"
dpkg -i "$deb_audio" > /dev/null
to_add=$(apt-get -s -f install | grep -E '^(Inst|Remv) ' || true)
[ -z "$to_add" ] || fail "apt-get -f install would change: $to_add"
plugins=$(ls /usr/lib/seatphone/plugins)
[ "$(echo $plugins)" = "libseatphone_audio.so libseatphone_voice.so" ] || fail "audio package has: $plugins"
report=$(as_user seatphone doctor || true)
echo "$report" | grep "plugins"
echo "$report" | grep -q "^ok    plugins    audio [0-9.]* loaded from /usr/lib/seatphone/plugins$" || fail "audio-only seat: $report"
dpkg --purge seatphone-audio > /dev/null
[ ! -e /usr/bin/seatphone ] || fail "/usr/bin/seatphone left after purging seatphone-audio"

echo "package tests passed"
