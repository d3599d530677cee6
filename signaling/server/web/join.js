// parley's guest call page: joins a guest link, knocks on its host's door
// (a call over parley's signaling WebSocket, the browser's own WebRTC and
// Opus), and shows the call. A room's link joins the room instead, and waits
// in its lobby until someone in it lets the guest in (the "room" part below). window.parley exposes its state, for tests and
// for anyone curious.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    host: $('host'), status: $('status'), detail: $('detail'), timer: $('timer'),
    peerMuted: $('peer-muted'), micLevel: $('mic-level'), remoteLevel: $('remote-level'),
    verify: $('verify'), join: $('join'), again: $('again'), mute: $('mute'), hangup: $('hangup'),
    remote: $('remote'),
  };
  const code = location.pathname.split('/').filter(Boolean).pop();
  const retryEvery = 4000; // ms between knocks while the host is away or busy

  // Error codes of the signaling protocol (README: the error table).
  const NO_DESTINATION = 80404, BUSY = 80202, INVALID_TOKEN = 80401;

  const st = {
    phase: 'ready', // ready, joining, knocking, waiting, lobby (a room's), in-call, ended
    room: '',       // a room's link: the room's name
    status: '',     // the call's status, as the server says
    callId: '', host: '', hostName: '', session: '',
    muted: false, remoteMuted: false, verification: '',
    answeredAt: 0,
  };
  let join = null;      // the Join answer: token, ice_servers, host
  let ws = null;        // the signaling WebSocket
  let pc = null;        // the peer connection of this knock
  let mic = null;       // the microphone's MediaStream
  let audio = null;     // AudioContext and its analysers
  let retry = 0;        // timer of the next knock
  let knocks = 0;       // refs of dial messages
  let dialed = false;   // the offer went out: later candidates are trickled
  const pending = [];   // our candidates waiting for a call id
  let backoff = 500;    // ms before the next reconnect

  const hostLabel = () => st.hostName || st.host || (ui.host && ui.host.textContent) || 'your host';

  function show(status, detail = '') {
    ui.status.textContent = status;
    ui.detail.textContent = detail;
  }

  function buttons(which) {
    for (const b of ['join', 'again', 'mute', 'hangup']) ui[b].hidden = !which.includes(b);
  }

  function phase(p) {
    st.phase = p;
    document.body.dataset.phase = p;
  }

  function send(m) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  }

  // --- joining ---------------------------------------------------------

  ui.join.addEventListener('click', async () => {
    ui.join.disabled = true;
    phase('joining');
    show('Asking for your microphone…');
    if (!navigator.mediaDevices || !window.RTCPeerConnection) {
      phase('ready');
      show('This browser cannot call from this page',
        window.isSecureContext === false
          ? 'Browsers give the microphone only to secure (https) pages. Ask ' + hostLabel() + ' for a link that starts with https://.'
          : 'It has no WebRTC. Open the link in a recent Firefox, Chrome, Edge or Safari.');
      return;
    }
    try {
      mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      ui.join.disabled = false;
      phase('ready');
      const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
      show(denied ? 'The microphone is blocked' : 'No microphone could be opened',
        denied ? 'Allow this page to use your microphone (the icon by the address), then press “Join the call” again.'
               : 'Plug in or switch on a microphone, then press “Join the call” again. (' + (err && err.message || err) + ')');
      return;
    }
    startMeters();
    show('Joining…');
    let res;
    try {
      res = await fetch(location.pathname, { method: 'POST', credentials: 'same-origin' });
    } catch (err) {
      fail('The server cannot be reached', 'Check your connection and reload the page.');
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      end(body.message || 'This link cannot be used (' + res.status + ').', '');
      return;
    }
    join = body;
    st.host = join.host;
    st.hostName = join.host_name || '';
    st.room = join.room || '';
    connect(false);
  });

  // --- signaling -----------------------------------------------------------

  function connect(resume) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(scheme + '//' + location.host + '/v1/ws');
    ws.onopen = () => {
      const m = { type: 'connect', token: join.token };
      if (resume && st.session) { m.session = st.session; m.resume = true; }
      send(m);
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      onMessage(m, resume);
    };
    ws.onclose = () => {
      ws = null;
      if (st.phase === 'ended' || st.phase === 'ready') return;
      if (st.phase === 'in-call') show('Reconnecting…', 'The connection to the server dropped; the call goes on meanwhile.');
      else show('Reconnecting…');
      setTimeout(() => connect(true), backoff);
      backoff = Math.min(backoff * 2, 8000);
    };
  }

  function onMessage(m, resumed) {
    switch (m.type) {
      case 'text':
        if (m.text) addText(m.text);
        return;
      case 'welcome':
        backoff = 500;
        st.session = m.session;
        if (!st.room) loadTexts();
        if (st.room) {
          // A resumed session is still in the room, or its lobby.
          if (!resumed || (st.phase !== 'in-call' && st.phase !== 'lobby')) roomJoin();
          else show(st.phase === 'lobby' ? 'Waiting to be let in…' : 'In the room');
          return;
        }
        if (resumed && st.callId) {
          send({ type: 'resume', call_id: st.callId });
          if (st.phase === 'in-call') show('In the call');
        } else if (st.phase !== 'in-call') {
          knock();
        }
        return;
      case 'error':
        onError(m);
        return;
      case 'call':
      case 'call_status_changed':
        if (m.event) onStatus(m.event, m.sdp || '');
        return;
      case 'candidate':
        if (pc && m.call_id === st.callId && m.candidate && m.candidate.candidate) {
          pc.addIceCandidate(m.candidate).catch(() => {});
        }
        return;
      case 'mute':
        if (m.call_id === st.callId && m.user !== join.guest) {
          st.remoteMuted = !!m.muted;
          ui.peerMuted.hidden = !st.remoteMuted;
        }
        return;
      case 'renegotiate':
        if (m.call_id === st.callId) renegotiate(m);
        return;
      case 'room_event':
        if (m.room_event) onRoom(m.room_event, m.sdp || '');
        return;
      case 'shutdown':
        return; // the socket closes next; we reconnect then
    }
  }

  function onError(m) {
    const e = m.error || {};
    if (st.room) {
      if (m.ref === 'room-join' || e.code === INVALID_TOKEN) end(e.message || 'You cannot join this room.', '');
      return;
    }
    const forKnock = m.ref && m.ref.startsWith('knock');
    if (!forKnock) {
      if (e.code === INVALID_TOKEN) end(e.message, '');
      return;
    }
    if (e.code === NO_DESTINATION || e.code === BUSY) {
      phase('waiting');
      const busy = e.code === BUSY;
      show(busy ? hostLabel() + ' is busy right now' : hostLabel() + ' is not online yet',
        (busy ? 'They are in another call, or do not want to be disturbed. '
              : '') + 'Keep this page open: you will knock again every few seconds.');
      buttons(['hangup']);
      clearTimeout(retry);
      retry = setTimeout(knock, retryEvery);
      return;
    }
    if (e.code === INVALID_TOKEN) {
      end(e.message || 'This link cannot be used any more.', '');
      return;
    }
    fail('Could not knock', e.message || 'Something went wrong; try again.');
  }

  // --- a room: the lobby, then the room's media ----------------------------
  // The peer connection follows the room's layout (signaling/room.go): one
  // send-only transceiver for the microphone, then RoomSlots (3) receive-only
  // ones, each the stream of one speaker the server forwards. The RFC 6464
  // audio level that the server picks speakers by is the browser's own
  // (ssrc-audio-level, in its offer). No trickle: the offer and the answer
  // carry every candidate.

  const roomSlots = 3;

  async function roomJoin() {
    if (pc) pc.close();
    pc = new RTCPeerConnection({ iceServers: join.ice_servers || [] });
    for (const t of mic.getAudioTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [mic] });
    for (let i = 0; i < roomSlots; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (e) => hearSlot(e.track);
    pc.onconnectionstatechange = () => {
      if (st.phase !== 'in-call') return;
      if (pc.connectionState === 'failed') end('The room’s audio failed', 'The connection was lost. Reload the page to join again.');
      else if (pc.connectionState === 'disconnected') show('Reconnecting…', 'The audio stopped for a moment.');
      else if (pc.connectionState === 'connected') show('In the room');
    };
    phase('knocking');
    show('Joining room ' + st.room + '…');
    buttons(['hangup']);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 3000);
    send({ type: 'room_join', ref: 'room-join', room: st.room, sdp: pc.localDescription.sdp });
  }

  // hearSlot plays a slot's stream, and adds it to what the room meter
  // measures.
  function hearSlot(track) {
    const el = document.createElement('audio');
    el.autoplay = true;
    el.srcObject = new MediaStream([track]);
    document.body.appendChild(el);
    el.play().catch(() => {});
    if (audio) {
      if (!audio.remote) {
        audio.remote = audio.ctx.createAnalyser();
        audio.remote.fftSize = 4096;
        audio.remote.smoothingTimeConstant = 0;
      }
      audio.ctx.createMediaStreamSource(el.srcObject).connect(audio.remote);
    }
  }

  async function onRoom(ev, sdp) {
    if (ev.room !== st.room) return;
    const me = ev.user === join.guest;
    switch (ev.kind) {
      case 'lobby':
        phase('lobby');
        show('Waiting to be let in…', 'You are in the lobby of room ' + st.room +
          ': someone in the room has been told. Keep this page open.');
        buttons(['hangup']);
        return;
      case 'admitted':
        if (me) show('You are let in', 'Joining the room’s audio…');
        return;
      case 'joined':
        if (!sdp) return;
        try {
          await pc.setRemoteDescription({ type: 'answer', sdp });
        } catch (err) {
          send({ type: 'room_leave', room: st.room });
          end('The room’s audio could not start', 'The browser refused the server’s answer: ' + err.message);
          return;
        }
        phase('in-call');
        st.answeredAt = Date.now();
        tick();
        show('In the room');
        buttons(['mute', 'hangup']);
        return;
      case 'turned_away':
        if (me) end('You were not let in', 'Someone in room ' + st.room + ' turned you away. You can close this page.');
        return;
      case 'removed':
        end('You were removed from the room', 'The host removed you. You can close this page.');
        return;
      case 'muted':
        if (me && ev.muted && ev.by && ev.by !== join.guest) {
          setMuted(true);
          show('In the room', 'You were muted by ' + ev.by + '.');
        }
        return;
      case 'room_ended':
        end('The room has ended', st.answeredAt ? 'You were in it for ' + clock(Date.now() - st.answeredAt) + '.' : '');
        return;
    }
  }

  function setMuted(muted) {
    st.muted = muted;
    for (const t of mic.getAudioTracks()) t.enabled = !muted;
    ui.mute.setAttribute('aria-pressed', String(muted));
    ui.mute.textContent = muted ? 'Unmute' : 'Mute';
  }

  // --- the call ----------------------------------------------------------

  function newPeer() {
    const p = new RTCPeerConnection({ iceServers: join.ice_servers || [] });
    for (const t of mic.getAudioTracks()) p.addTrack(t, mic);
    p.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate || !dialed) return; // before the dial: in the offer
      const c = e.candidate.toJSON();
      if (st.callId) send({ type: 'candidate', call_id: st.callId, candidate: c });
      else pending.push(c);
    };
    p.ontrack = (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      ui.remote.srcObject = stream;
      ui.remote.play().catch(() => {});
      meterRemote(stream);
    };
    p.onconnectionstatechange = () => {
      if (st.phase !== 'in-call') return;
      if (p.connectionState === 'disconnected' || p.connectionState === 'failed') {
        show('Reconnecting…', 'The audio path was lost; parley is finding another.');
      } else if (p.connectionState === 'connected') {
        show('In the call');
      }
    };
    return p;
  }

  // knock dials the host with a fresh offer (or the one not yet used).
  async function knock() {
    clearTimeout(retry);
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (!pc || st.callId) {
      if (pc) pc.close();
      pc = newPeer();
      st.callId = '';
      dialed = false;
      pending.length = 0;
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
    }
    dialed = true;
    if (st.phase !== 'waiting') {
      phase('knocking');
      show('Knocking…');
      buttons(['hangup']);
    }
    send({ type: 'dial', ref: 'knock' + (++knocks), to: join.host, sdp: pc.localDescription.sdp });
  }

  function gathered(p, ms) {
    return new Promise((done) => {
      if (p.iceGatheringState === 'complete') return done();
      const t = setTimeout(done, ms);
      p.addEventListener('icegatheringstatechange', () => {
        if (p.iceGatheringState === 'complete') { clearTimeout(t); done(); }
      });
    });
  }

  async function onStatus(ev, sdp) {
    if (ev.direction !== 'outbound') return;
    if (st.callId && ev.id !== st.callId) return;
    if (!st.callId) {
      st.callId = ev.id;
      for (const c of pending.splice(0)) send({ type: 'candidate', call_id: ev.id, candidate: c });
    }
    st.status = ev.status;
    switch (ev.status) {
      case 'started':
      case 'ringing':
        phase('knocking');
        show('Waiting for ' + hostLabel() + ' to let you in…',
          ev.status === 'ringing' ? hostLabel() + ' has been told that you are waiting.' : '');
        buttons(['hangup']);
        return;
      case 'answered':
        if (sdp) {
          try {
            await pc.setRemoteDescription({ type: 'answer', sdp });
          } catch (err) {
            send({ type: 'fail', call_id: st.callId, reason: 'the browser refused the answer: ' + err.message });
            return;
          }
        }
        if (st.phase !== 'in-call') {
          phase('in-call');
          st.answeredAt = Date.now();
          tick();
        }
        show('In the call');
        buttons(['mute', 'hangup']);
        showVerification();
        return;
      case 'completed':
        end('The call has ended', 'It lasted ' + clock(Date.now() - st.answeredAt) + '. You can close this page.');
        return;
      case 'rejected':
        end(hostLabel() + ' did not let you in', 'They turned the call down.');
        return;
      case 'unanswered':
        stopCall();
        phase('ready');
        if (ev.reason === 'canceled') show('You stopped knocking', 'Knock again whenever you like.');
        else show(hostLabel() + ' has not let you in', 'Maybe they are away from their terminal. Knock again in a while.');
        buttons(['again']);
        return;
      case 'failed':
        stopCall();
        phase('ready');
        show('The call failed', (ev.reason || 'the connection was lost') + '. You can knock again.');
        buttons(['again']);
        return;
      case 'reconnecting':
        show('Reconnecting…', 'The audio stopped for a moment.');
        return;
    }
  }

  async function renegotiate(m) {
    try {
      if (m.sdp_type === 'request') {
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
        send({ type: 'renegotiate', call_id: st.callId, sdp_type: 'offer', sdp: pc.localDescription.sdp });
      } else if (m.sdp_type === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      } else if (m.sdp_type === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        send({ type: 'renegotiate', call_id: st.callId, sdp_type: 'answer', sdp: pc.localDescription.sdp });
      }
    } catch (err) {
      // The old path may come back by itself; the server ends the call
      // after its grace period if not.
    }
  }

  function stopCall() {
    clearTimeout(retry);
    if (pc) pc.close();
    pc = null;
    st.callId = '';
    st.remoteMuted = false;
    ui.peerMuted.hidden = true;
    ui.timer.hidden = true;
    ui.verify.hidden = true;
    ui.remote.srcObject = null;
  }

  function end(status, detail) {
    stopCall();
    phase('ended');
    show(status, detail);
    buttons([]);
    if (textUI.form) textUI.form.hidden = true; // the link is spent: no more texts
    if (mic) for (const t of mic.getTracks()) t.stop();
    if (ws) ws.close();
  }

  function fail(status, detail) {
    stopCall();
    phase('ready');
    ui.join.disabled = false;
    show(status, detail);
    buttons(join ? ['again'] : ['join']);
  }

  ui.again.addEventListener('click', () => {
    phase('knocking');
    if (ws && ws.readyState === WebSocket.OPEN) knock();
    else connect(false);
  });

  ui.hangup.addEventListener('click', () => {
    clearTimeout(retry);
    if (st.room) {
      send({ type: 'room_leave', room: st.room });
      end(st.phase === 'in-call' ? 'You left the room' : 'You left the lobby', 'You can close this page.');
      return;
    }
    if (st.callId) {
      send({ type: 'hangup', call_id: st.callId });
      if (st.phase === 'in-call') ui.hangup.disabled = true; // the completed status follows
      return;
    }
    stopCall();
    phase('ready');
    show('You stopped knocking', 'Knock again whenever you like.');
    buttons(['again']);
  });

  ui.mute.addEventListener('click', () => {
    if (st.room) {
      setMuted(!st.muted);
      send({ type: 'room_mute', room: st.room, muted: st.muted });
      return;
    }
    st.muted = !st.muted;
    for (const t of mic.getAudioTracks()) t.enabled = !st.muted;
    ui.mute.setAttribute('aria-pressed', String(st.muted));
    ui.mute.textContent = st.muted ? 'Unmute' : 'Mute';
    send({ type: 'mute', call_id: st.callId, muted: st.muted });
  });

  addEventListener('pagehide', () => {
    if (st.room && (st.phase === 'in-call' || st.phase === 'lobby')) send({ type: 'room_leave', room: st.room });
    if (st.callId) send({ type: 'hangup', call_id: st.callId });
  });

  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, '0');
    return h ? h + ':' + String(m).padStart(2, '0') + ':' + sec : m + ':' + sec;
  }

  function tick() {
    if (st.phase !== 'in-call') return;
    ui.timer.hidden = false;
    ui.timer.textContent = clock(Date.now() - st.answeredAt);
    setTimeout(tick, 1000 - (Date.now() - st.answeredAt) % 1000);
  }

  // --- verification: the same code as the terminal's (call/verify.go) ------

  async function showVerification() {
    if (!crypto.subtle || !pc || !pc.localDescription || !pc.remoteDescription) return;
    const fp = (sdp) => {
      for (const raw of sdp.split('\n')) {
        const line = raw.trim();
        if (!line.startsWith('a=fingerprint:')) continue;
        const v = line.slice('a=fingerprint:'.length).trim();
        const i = v.indexOf(' ');
        if (i < 0) return '';
        return v.slice(0, i).toLowerCase() + ' ' + v.slice(i + 1).trim().toUpperCase();
      }
      return '';
    };
    const fps = [fp(pc.localDescription.sdp), fp(pc.remoteDescription.sdp)];
    if (!fps[0] || !fps[1]) return;
    fps.sort();
    const data = new TextEncoder().encode('parley verification v1\n' + fps[0] + '\n' + fps[1]);
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    let n = 0n;
    for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(h[i]);
    const digits = (n % 1000000000000n).toString().padStart(12, '0');
    st.verification = digits.match(/.../g).join(' ');
    ui.verify.textContent = 'Verification code ' + st.verification +
      ': if ' + hostLabel() + ' reads the same code, no one sits between you.';
    ui.verify.hidden = false;
  }

  // --- levels --------------------------------------------------------------

  function startMeters() {
    const ctx = new AudioContext();
    ctx.resume().catch(() => {});
    const analyser = (stream) => {
      const a = ctx.createAnalyser();
      a.fftSize = 4096;
      a.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(stream).connect(a);
      return a;
    };
    audio = { ctx, analyser, mic: analyser(mic), remote: null };
    const buf = new Float32Array(4096);
    const draw = () => {
      ui.micLevel.style.width = (st.muted ? 0 : width(level(audio.mic, buf))) + '%';
      ui.remoteLevel.style.width = (audio.remote ? width(level(audio.remote, buf)) : 0) + '%';
      requestAnimationFrame(draw);
    };
    requestAnimationFrame(draw);
  }

  function meterRemote(stream) {
    if (audio) audio.remote = audio.analyser(stream);
  }

  // level is the RMS of the analyser's last block, in dBFS.
  function level(a, buf) {
    a.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return 10 * Math.log10(sum / buf.length + 1e-12);
  }

  const width = (db) => Math.max(0, Math.min(100, (db + 60) / 60 * 100));

  // remoteTone is the strongest frequency of what the host sends and its
  // level, from the remote analyser's spectrum.
  function remoteTone() {
    if (!audio || !audio.remote) return { hz: 0, db: -Infinity, level: -Infinity };
    const a = audio.remote;
    const spec = new Float32Array(a.frequencyBinCount);
    a.getFloatFrequencyData(spec);
    let best = 1;
    for (let i = 2; i < spec.length; i++) if (spec[i] > spec[best]) best = i;
    const buf = new Float32Array(a.fftSize);
    return { hz: best * audio.ctx.sampleRate / a.fftSize, db: spec[best], level: level(a, buf) };
  }

  // sdp is the peer connection's offer and answer, and the RTP header
  // extensions its microphone's sender writes (as negotiated), for tests.
  const sdp = () => ({ local: pc && pc.localDescription ? pc.localDescription.sdp : '',
    remote: pc && pc.remoteDescription ? pc.remoteDescription.sdp : '',
    sent: pc && pc.getSenders().length ? pc.getSenders()[0].getParameters().headerExtensions.map((e) => e.uri) : [] });

  // --- texts ---------------------------------------------------------------
  // While the link works, the guest and the host write to each other
  // (POST and GET /v1/me/texts with the guest's token); the server tells the
  // page of each text on the WebSocket. Texts are shown with textContent:
  // text, never markup.

  const texts = { list: [], error: '' };
  const textUI = { box: $('texts'), list: $('text-list'), form: $('text-form'), input: $('text-input') };

  function api(method, path, body) {
    return fetch(path, {
      method, headers: { Authorization: 'Bearer ' + join.token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => {
      const b = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(b.message || 'refused (' + res.status + ')');
      return b;
    });
  }

  function addText(t) {
    if (!textUI.list || texts.list.some((x) => x.seq === t.seq)) return;
    let i = texts.list.length;
    while (i > 0 && texts.list[i - 1].seq > t.seq) i--;
    texts.list.splice(i, 0, t);
    const li = document.createElement('li');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = (t.from === st.host ? hostLabel() : 'You') + ': ';
    li.append(who, document.createTextNode(t.text));
    textUI.list.insertBefore(li, textUI.list.children[i] || null);
    textUI.list.scrollTop = textUI.list.scrollHeight;
  }

  function loadTexts() {
    if (!textUI.box) return;
    textUI.box.hidden = false;
    api('GET', '/v1/me/texts?with=' + encodeURIComponent(st.host)).then((l) => {
      for (const t of l.texts || []) addText(t);
    }).catch((err) => { texts.error = String(err.message || err); });
  }

  if (textUI.form) {
    textUI.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = textUI.input.value.trim();
      if (!text || !join) return;
      textUI.input.value = '';
      api('POST', '/v1/me/texts', { to: st.host, text }).then(addText).catch((err) => {
        texts.error = String(err.message || err);
        show(st.phase === 'in-call' ? 'In the call' : ui.status.textContent, 'Your text was not sent: ' + texts.error);
      });
    });
  }

  window.parley = { state: st, remoteTone, sdp, texts };
})();
