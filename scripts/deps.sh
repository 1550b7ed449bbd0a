# Sourced by the set-up scripts: installs the Debian 12 packages the build and
# the tests need, when they are missing.
VUV_DEPS=(meson ninja-build gcc clang pkg-config python3 libclang-rt-14-dev
	libavcodec-dev libavutil-dev libswscale-dev libavformat-dev ffmpeg libseccomp-dev gdb)

vuv_install_deps() {
	local missing=() p
	for p in "${VUV_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# meson setup, or reconfigure when the directory exists.
vuv_setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}
