// The monitoring-centre page: sign on and off, run a patrol round as a guided wall, hand over.
// The wall shows the round's cameras as tiles; the current one is marked normal or abnormal (with a note,
// a snapshot reference, the checklist and an optional follow-up) and the wall moves on by itself after
// the round's dwell time. Everything goes through /api/v1/centre; scope is decided by the server.
import { ApiError, api, setUnauthorizedHandler } from "./api.js";
import { h, mount, toast } from "./dom.js";
import { pickLanguage } from "./i18n.js";
import { loadHls, playLive } from "./liveplayer.js";
import { drawTraffic } from "./trafficchart.js";

// This page's own words in Chinese (the console's shared catalogues stay with the console's pages).
const ZH = {
  "Monitoring centre": "监控中心", Duty: "值班", "shift leader": "值班长", "Sign on": "上岗", "Sign off": "下岗",
  "My alarms": "我的告警", "Escalated alarms": "已升级告警", "Patrol rounds": "视频巡逻", Note: "备注",
  "Snapshot reference": "截图编号", "no follow-up": "无后续", "open an incident": "立为事件",
  "open a work order": "派运维工单", Normal: "正常", Abnormal: "异常", "Finish round": "完成巡逻",
  Handover: "交接班", "Write handover": "写交接记录", Start: "开始", Acknowledge: "确认", live: "实时",
  "starting…": "正在启动…", "camera down": "摄像机离线", "no video": "无视频", "cannot play": "无法播放",
  late: "迟到", due: "应巡", finished: "已完成", "acknowledged by": "确认人", "waiting for the next shift": "待接班确认",
  "(no leader on duty)": "（无值班长）", alarm: "告警", incident: "事件", "work order": "工单",
  normal: "正常", abnormal: "异常", Traffic: "交通", "Road node": "路口",
  "Vehicles per hour and longest queue, last 24 hours": "近24小时每小时车流量与最长排队",
  "No traffic counts in the last 24 hours": "近24小时无车流量数据", forward: "正向", backward: "反向",
  "Longest queue": "最长排队",
};
const ZH_UI = pickLanguage().startsWith("zh");
const L = (en) => (ZH_UI ? ZH[en] ?? en : en);

function localise() {
  document.documentElement.lang = ZH_UI ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-l10n]")) el.textContent = L(el.dataset.l10n);
  for (const el of document.querySelectorAll("[data-l10n-placeholder]")) el.placeholder = L(el.dataset.l10nPlaceholder);
  document.title = `Vigil · ${L("Monitoring centre")}`;
}

const $ = (id) => document.getElementById(id);
const state = { me: null, shifts: [], run: null, index: 0, timer: 0, left: 0 };
// Exposed for tests and for anyone scripting the page.
window.vigilCentre = state;

function fail(err) {
  toast(err instanceof ApiError ? err.message : String(err));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

async function ackAlarm(id) {
  await api(`/health/alarms/${id}/ack`, { method: "POST" });
  await loadDuty();
}

async function loadDuty() {
  const [duty, escalations, mine] = await Promise.all([api("/centre/duty"), api("/centre/escalations"),
    api("/centre/alarms")]);
  mount($("my-alarms"), mine.map((a) => h("li", { dataset: { alarm: a.id } },
    `${a.kind} · ${a.camera_id} · ${when(a.raised_at)} `,
    a.acknowledged_by ? h("span", { class: "muted acked" }, `${L("acknowledged by")} ${a.acknowledged_by}`)
      : h("button", { type: "button", class: "ack-alarm", onclick: () => ackAlarm(a.id).catch(fail) }, L("Acknowledge")))));
  mount($("on-duty"), duty.map((d) => h("li", { dataset: { user: d.user_name } },
    `${d.user_name}${d.leader ? " ★" : ""} · ${d.region_code} · ${when(d.on_at)}`)));
  mount($("escalations"), escalations.map((e) => h("li", { dataset: { alarm: e.alarm_id } },
    `${L("alarm")} ${e.alarm_id} → ${e.to_user || L("(no leader on duty)")} · ${when(e.at)}`)));
}

async function loadShifts() {
  state.shifts = await api("/centre/shifts");
  mount($("shift-select"), state.shifts.map((s) => h("option", { value: s.id },
    `${s.name} ${String(Math.floor(s.start_minute / 60)).padStart(2, "0")}:${String(s.start_minute % 60).padStart(2, "0")} · ${s.region_code}`)));
}

async function loadRounds() {
  const rounds = await api("/centre/rounds");
  mount($("rounds"), rounds.map((r) => h("li", { dataset: { round: r.id } },
    `${r.name} · ${r.cameras.length} · ${r.dwell_s}s `,
    h("button", { type: "button", class: "start-round", onclick: () => startRun(r.id).catch(fail) }, L("Start")))));
}

async function loadHandovers() {
  const list = await api("/centre/handovers");
  mount($("handovers"), list.map((x) => {
    const counts = Object.entries(x.items || {}).map(([k, v]) => `${v.length} ${k}`).join(", ");
    const ack = x.acked_at
      ? h("span", { class: "muted acked" }, ` ${L("acknowledged by")} ${x.incoming}`)
      : (x.outgoing !== state.me.name
        ? h("button", { type: "button", class: "ack-handover", onclick: () => ackHandover(x.id).catch(fail) },
          L("Acknowledge"))
        : h("span", { class: "muted" }, ` ${L("waiting for the next shift")}`));
    return h("li", { dataset: { handover: x.id } }, `#${x.id} ${x.outgoing} · ${when(x.written_at)} · ${counts}`,
      x.notes ? h("div", { class: "muted" }, x.notes) : null, ack);
  }));
}

// ----------------------------------------------------------------------------- the patrol wall
function current() {
  return state.run?.round.cameras[state.index];
}

// The camera being looked at plays inline in its tile (hls.js, as on the live page); the others wait their turn.
const LIVE_WORDS = { starting: "starting…", live: "live", down: "camera down", no_video: "no video", error: "cannot play" };

function currentVideo(cameraId) {
  state.player?.stop();
  const video = h("video", { class: "centre-video", muted: true, autoplay: true, playsinline: true });
  video.muted = true;
  const badge = h("span", { class: "muted centre-video-state" }, L("starting…"));
  const box = h("div", { class: "centre-live", dataset: { state: "starting" } }, video, badge);
  state.player = playLive(video, cameraId, { token: sessionStorage.getItem("vigil_token") || "",
    onState: (s) => {
      box.dataset.state = s;
      badge.textContent = L(LIVE_WORDS[s] || s);
    } });
  return box;
}

function drawWall() {
  const run = state.run;
  const marked = new Map(run.views.map((v) => [v.camera_id, v.status]));
  $("wall").hidden = false;
  $("wall-title").textContent = run.round.name;
  $("wall-state").textContent = run.late ? L("late") : (run.due_at ? `${L("due")} ${when(run.due_at)}` : "");
  $("wall-state").classList.toggle("centre-late", run.late);
  mount($("wall-tiles"), run.round.cameras.map((c, i) => h("div", {
    class: `centre-tile ${i === state.index ? "current" : ""} ${marked.get(c.camera_id) || ""}`,
    dataset: { camera: c.camera_id },
  }, h("strong", {}, run.camera_names[c.camera_id] || c.camera_id), h("div", { class: "mono muted" }, c.camera_id),
  i === state.index ? currentVideo(c.camera_id) : null,
  h("a", { href: `live.html?camera=${encodeURIComponent(c.camera_id)}`, target: "_blank", rel: "noopener" }, L("live")))));
  mount($("wall-checklist"), run.round.checklist.map((item) => h("label", {},
    h("input", { type: "checkbox", class: "check", dataset: { item } }), ` ${item}`)));
  mount($("wall-views"), run.views.map((v) => h("li", { dataset: { status: v.status } },
    `${run.camera_names[v.camera_id] || v.camera_id}: ${L(v.status)}${v.note ? ` · ${v.note}` : ""}` +
    `${v.incident_id ? ` · ${L("incident")} ${v.incident_id}` : ""}` +
    `${v.order_id ? ` · ${L("work order")} ${v.order_id}` : ""}`)));
}

function tick() {
  state.left -= 1;
  $("wall-timer").textContent = `${Math.max(0, state.left)} s`;
  if (state.left <= 0) advance();
}

function advance() {
  const n = state.run.round.cameras.length;
  state.index = (state.index + 1) % n;
  state.left = state.run.round.dwell_s;
  drawWall();
}

async function startRun(roundId) {
  await loadHls().catch(fail);
  state.run = await api(`/centre/rounds/${roundId}/runs`, { method: "POST" });
  state.index = 0;
  state.left = state.run.round.dwell_s;
  clearInterval(state.timer);
  state.timer = setInterval(tick, 1000);
  drawWall();
}

async function mark(status) {
  const cam = current();
  if (!cam) return;
  const checks = Object.fromEntries([...document.querySelectorAll("#wall-checklist .check")]
    .map((c) => [c.dataset.item, c.checked]));
  const follow = status === "abnormal" ? $("view-follow").value : "none";
  const view = await api(`/centre/runs/${state.run.id}/views`, {
    method: "POST",
    body: { camera_id: cam.camera_id, status, note: $("view-note").value, snapshot: $("view-snapshot").value,
      checks, follow_up: follow },
  });
  state.run.views.push(view);
  $("view-note").value = "";
  $("view-snapshot").value = "";
  $("view-follow").value = "none";
  advance();
}

async function finishRun() {
  const done = await api(`/centre/runs/${state.run.id}/finish`, { method: "POST" });
  clearInterval(state.timer);
  state.player?.stop();
  state.finished = done;
  $("wall-state").textContent = `${L("finished")} ${when(done.finished_at)}${done.late ? ` (${L("late")})` : ""}`;
}

// ----------------------------------------------------------------------------- traffic per road node
async function loadTraffic() {
  const end = new Date();
  end.setMinutes(60, 0, 0); // the end of the current hour: whole hours on the chart
  const span = { start: new Date(end - 24 * 3600e3).toISOString(), end: end.toISOString() };
  const qs = new URLSearchParams(span).toString();
  const [counts, queues] = await Promise.all([api(`/centre/traffic?${qs}`), api(`/centre/traffic/queues?${qs}`)]);
  state.traffic = { counts, queues };
  const names = new Map([...counts.nodes, ...queues.nodes].map((n) => [n.node, n.name]));
  const sel = $("traffic-node");
  const keep = sel.value;
  mount(sel, [...names].map(([node, name]) => h("option", { value: node }, name)));
  if (names.has(keep)) sel.value = keep;
  $("traffic-empty").hidden = names.size > 0;
  drawNode();
}

function drawNode() {
  const { counts, queues } = state.traffic;
  const node = $("traffic-node").value;
  const c = counts.nodes.find((n) => n.node === node);
  const q = queues.nodes.find((n) => n.node === node);
  $("traffic-chart").hidden = !node;
  if (!node) return;
  drawTraffic($("traffic-chart"), { buckets: counts.buckets, directions: c?.directions || {},
    queue: q?.max_m || counts.buckets.map(() => null), words: L });
}

// ----------------------------------------------------------------------------- duty and handover
async function signOn() {
  await api("/centre/duty/on", { method: "POST",
    body: { shift_id: Number($("shift-select").value), leader: $("leader-box").checked } });
  await loadDuty();
}

async function signOff() {
  await api("/centre/duty/off", { method: "POST" });
  await loadDuty();
}

async function writeHandover() {
  await api("/centre/handovers", { method: "POST",
    body: { shift_id: Number($("shift-select").value), notes: $("handover-notes").value } });
  $("handover-notes").value = "";
  await loadHandovers();
}

async function ackHandover(id) {
  await api(`/centre/handovers/${id}/ack`, { method: "POST" });
  await loadHandovers();
}

async function init() {
  localise();
  setUnauthorizedHandler(() => location.replace("login.html"));
  state.me = await api("/auth/me");
  $("whoami").textContent = `${state.me.name} · ${state.me.role}`;
  $("sign-on").addEventListener("click", () => signOn().catch(fail));
  $("sign-off").addEventListener("click", () => signOff().catch(fail));
  $("mark-normal").addEventListener("click", () => mark("normal").catch(fail));
  $("mark-abnormal").addEventListener("click", () => mark("abnormal").catch(fail));
  $("finish-run").addEventListener("click", () => finishRun().catch(fail));
  $("write-handover").addEventListener("click", () => writeHandover().catch(fail));
  $("traffic-node").addEventListener("change", () => drawNode());
  await Promise.all([loadShifts(), loadDuty(), loadRounds(), loadHandovers(), loadTraffic()]);
  document.body.dataset.ready = "1";
}

init().catch(fail);
