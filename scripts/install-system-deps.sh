#!/usr/bin/env bash
# Install the Debian packages Vigil needs, only those missing. Run as root on Debian 12.
set -euo pipefail
PKGS=(
  python3-venv python3-pip
  ffmpeg                      # recording, test media, ffprobe baseline
  postgresql                  # the city-scale database (tests start their own server)
  chromium chromium-driver    # headless browser tests of the console
  mosquitto                   # MQTT broker for event tests
  sip-tester                  # sipp, a GB/T 28181 peer
  opencv-doc                  # real footage: vtest.avi, tree.avi
  gstreamer1.0-tools gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi python3-gst-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  poppler-utils               # pdftoppm, to look at PDF reports
  osmium-tool                 # OSM XML <-> PBF, for the planner's PBF input test
  fonts-noto-cjk              # Chinese place names in maps and reports
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "run as root (or install: ${missing[*]})" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
