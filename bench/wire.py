#!/usr/bin/env python3
"""Cut figure 3's calls on the wire (a tcpdump -i lo pcap) into segments:
command -> INVITE, INVITE -> 407, 407 -> INVITE again, INVITE -> 200,
200 -> ACK, ACK -> event, command -> event. Seatphone (WS startCall ->
2006) and baresip (ctrl_tcp dial -> CALL_ESTABLISHED) separately, medians
in ms; a call whose INVITE was not challenged (its credentials sent ahead)
is counted apart ("ahead"), its two 407 segments zero. Each call's SIP leg is the one its first INVITE went out on (caller
<-> Kamailio); the command is the last one sent within 50 ms before that
INVITE, the event the first one within 50 ms after the 200 (issue 20).

    tcpdump -i lo -s 1600 -w run.pcap 'udp or tcp' &
    target/dist/bench --rounds 2 --figures 3; kill %1
    bench/wire.py run.pcap [calls.json]     # calls.json: every call's segments
"""
import struct, sys, statistics, re

def packets(path):
    f = open(path, 'rb')
    gh = f.read(24)
    magic = struct.unpack('<I', gh[:4])[0]
    nano = magic == 0xa1b23c4d
    link = struct.unpack('<I', gh[20:24])[0]
    while True:
        h = f.read(16)
        if len(h) < 16:
            return
        ts, tu, incl, orig = struct.unpack('<IIII', h)
        data = f.read(incl)
        t = ts + tu / (1e9 if nano else 1e6)
        if link == 1:
            eth = data[12:14]
            if eth != b'\x08\x00':
                continue
            ip = data[14:]
        elif link == 113:  # linux cooked
            ip = data[16:]
        else:
            ip = data
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 15) * 4
        proto = ip[9]
        src = ip[12:16]; dst = ip[16:20]
        l4 = ip[ihl:]
        if proto == 17:
            sp, dp = struct.unpack('>HH', l4[:4])
            yield t, 'udp', sp, dp, l4[8:]
        elif proto == 6:
            sp, dp = struct.unpack('>HH', l4[:4])
            off = (l4[12] >> 4) * 4
            yield t, 'tcp', sp, dp, l4[off:]

def ws_text(payload):
    """Texts of the WebSocket frames in a TCP payload (unmasked)."""
    out = []
    i = 0
    while i + 2 <= len(payload):
        b0, b1 = payload[i], payload[i + 1]
        op = b0 & 15
        masked = b1 & 0x80
        ln = b1 & 0x7f
        j = i + 2
        if ln == 126:
            ln = struct.unpack('>H', payload[j:j + 2])[0]; j += 2
        elif ln == 127:
            ln = struct.unpack('>Q', payload[j:j + 8])[0]; j += 8
        key = None
        if masked:
            key = payload[j:j + 4]; j += 4
        body = payload[j:j + ln]
        if key:
            body = bytes(c ^ key[k % 4] for k, c in enumerate(body))
        if op == 1:
            out.append(body.decode('utf-8', 'replace'))
        i = j + ln
    return out

def main(path):
    sip = []  # (t, sp, dp, first line, call-id, cseq)
    seat_cmd, seat_evt, bare_cmd, bare_evt = [], [], [], []
    for t, proto, sp, dp, pl in packets(path):
        if not pl:
            continue
        if proto == 'udp':
            try:
                text = pl.decode('utf-8', 'replace')
            except Exception:
                continue
            first = text.split('\r\n', 1)[0]
            m = re.search(r'^(?:Call-ID|i):\s*(\S+)', text, re.M | re.I)
            c = re.search(r'^CSeq:\s*(\d+)\s+(\w+)', text, re.M | re.I)
            if m and c:
                sip.append((t, sp, dp, first, m.group(1), c.group(2)))
        else:
            for txt in ws_text(pl):
                if '"startCall"' in txt or 'tsdk_start_call' in txt.lower():
                    seat_cmd.append(t)
                elif '2006' in txt and 'notify' in txt:
                    seat_evt.append(t)
            s = pl.decode('latin-1')
            if '"command":"dial"' in s.replace(' ', ''):
                bare_cmd.append(t)
            if 'CALL_ESTABLISHED' in s:
                bare_evt.append(t)
    calls = {}
    for p in sip:
        calls.setdefault(p[4], []).append(p)
    rows = {}
    for cid, ps in calls.items():
        inv = [p for p in ps if p[3].startswith('INVITE ')]
        if not inv:
            continue
        c, k = inv[0][1], inv[0][2]
        leg = [p for p in ps if {p[1], p[2]} == {c, k}]
        def at(pred, after=0.0):
            for p in leg:
                if p[0] >= after and pred(p):
                    return p[0]
            return None
        t_inv1 = inv[0][0]
        t_407 = at(lambda p: p[1] == k and p[3].startswith('SIP/2.0 407') and p[5] == 'INVITE', t_inv1)
        if t_407 is None:
            t_407 = t_inv2 = t_inv1
        else:
            t_inv2 = at(lambda p: p[1] == c and p[3].startswith('INVITE '), t_407)
        t_200 = at(lambda p: p[1] == k and p[3].startswith('SIP/2.0 200') and p[5] == 'INVITE', t_inv2 or t_407)
        if t_inv2 is None or t_200 is None:
            continue
        t_ack = at(lambda p: p[1] == c and p[3].startswith('ACK '), t_200)
        # Which side: the command just before the INVITE.
        best = None
        for side, cmds, evts in (('seat', seat_cmd, seat_evt), ('bare', bare_cmd, bare_evt)):
            before = [x for x in cmds if x <= t_inv1 and t_inv1 - x < 0.05]
            if before and (best is None or before[-1] > best[1]):
                after = [x for x in evts if x >= t_200 and x - t_200 < 0.05]
                best = (side, before[-1], after[0] if after else None)
        if not best or best[2] is None or t_ack is None:
            continue
        side, t_cmd, t_evt = best
        if t_inv2 == t_inv1:
            side += ' ahead'
        rows.setdefault(side, []).append([t_inv1 - t_cmd, t_407 - t_inv1, t_inv2 - t_407, t_200 - t_inv2,
                           t_ack - t_200, t_evt - t_ack, t_evt - t_cmd])
    if len(sys.argv) > 2:
        import json
        json.dump(rows, open(sys.argv[2], 'w'))
    names = ['cmd>INV', 'INV>407', '407>INV2', 'INV2>200', '200>ACK', 'ACK>evt', 'total']
    print('%-10s %3s ' % ('side', 'n') + ' '.join('%9s' % n for n in names))
    for side in sorted(rows, reverse=True):
        r = rows[side]
        med = [statistics.median(x[i] for x in r) * 1e3 for i in range(len(names))]
        print('%-10s %3d ' % (side, len(r)) + ' '.join('%9.3f' % v for v in med))

if __name__ == '__main__':
    main(sys.argv[1])
