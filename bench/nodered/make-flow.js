#!/usr/bin/env node
// Writes (on stdout) the Node-RED flow that does greenwatchd's work for the
// comparison in bench/compare.sh: poll every device of the benchmark fleet
// once a second, decode its 35 points and write one InfluxDB point per
// device and poll.
//
//   node make-flow.js --map MAP.json --ports "P1 P2 ..." [--units U]
//                     --influx HOST:PORT --database DB [--parallel-unit-ids]
//
// MAP.json is `gw-bench-map --json`: the points, and the optimal plan of
// reads the floor and greenwatchd also make (3 reads per device: 0-31,
// 40-59, 100-109).  Each port serves unit ids 1..U; device number
// port_index * U + unit - 1 is called "d<number>", as in poll_bench.
//
// The flow is what a Node-RED user would build with the two contrib
// packages, kept as cheap as they allow:
//   - per port, one modbus-client (node-red-contrib-modbus) config node:
//     one TCP connection, as greenwatchd has one per bus.  "Parallel unit
//     ids" is off unless --parallel-unit-ids: with it on, the client's
//     queue walks all 256 unit ids (and formats a log line for each, logging
//     on or not) for every request it sends: in a profile of the first
//     version of this flow that was the largest single cost, and it buys
//     nothing here, where every connection serves one unit id;
//   - per device, one inject node firing every 1 s (greenwatchd's
//     interval), stamping msg.polled with the time, its payload the plan's
//     reads as modbus-flex-getter requests; a split node making one
//     message of each; and a
//     modbus-flex-getter that reads them in order on the device's
//     connection, keeping the message's properties (its topic, the
//     device, and msg.parts) in its answer.  One timer per device keeps a
//     poll's reads together; three modbus-read nodes, a timer each, drift
//     apart under load and their reads can no longer be told apart by poll;
//   - one join node for all devices, in automatic mode: msg.parts puts
//     each poll's reads back together, in plan order;
//   - one function node decoding a poll the way the profile says
//     (float32 ABCD, uint32 CDAB scaled, uint16 scaled with sentinel
//     0xFFFF, min/max: values outside are left out, as greenwatch leaves
//     out uncertain points) into {measurement, tags, fields, timestamp}.
//     A read that fails sends nothing (the flex-getter's empty message on
//     failure carries no msg.parts, which the join would refuse), so a
//     poll with a failed read writes no point, where greenwatch writes
//     the points it did read;
//   - one join node batching the points of up to a second (as
//     greenwatchd's sink sends one request per second) into an
//     "influxdb batch" node (node-red-contrib-influxdb), precision ms.
// It evaluates no alarm rules and publishes nothing to MQTT: greenwatchd
// does both in the comparison, Node-RED does not.
"use strict";

const fs = require("fs");

function usage(msg) {
    if (msg)
        process.stderr.write(`make-flow.js: ${msg}\n`);
    process.stderr.write("usage: node make-flow.js --map MAP.json --ports \"P1 P2 ...\" [--units U]\n" +
                         "                         --influx HOST:PORT --database DB [--parallel-unit-ids]\n");
    process.exit(2);
}

function parseArgs(argv) {
    const o = { units: 1, parallelUnitIds: false };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i], value = argv[i + 1];
        if (key === "--parallel-unit-ids") {
            o.parallelUnitIds = true;
            i--;
            continue;
        }
        if (value === undefined)
            usage(`${key} needs a value`);
        switch (key) {
        case "--map": o.map = value; break;
        case "--ports": o.ports = value.split(/[\s,]+/).filter(Boolean).map(Number); break;
        case "--units": o.units = Number(value); break;
        case "--influx": o.influx = value; break;
        case "--database": o.database = value; break;
        default: usage(`unknown option ${key}`);
        }
    }
    if (!o.map || !o.ports || !o.ports.length || !o.influx || !o.database)
        usage("--map, --ports, --influx and --database are required");
    if (o.ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
        usage("--ports: not a list of TCP ports");
    if (!Number.isInteger(o.units) || o.units < 1 || o.units > 247)
        usage("--units must be 1..247");
    const m = /^([^:]+):(\d+)$/.exec(o.influx);
    if (!m)
        usage("--influx must be HOST:PORT");
    o.influxHost = m[1];
    o.influxPort = m[2];
    return o;
}

// The decoding table: per point [name, type, order, read address, offset
// in that read, scale, min, max, sentinels], the read being the plan's
// read that covers it.
function decodeTable(map) {
    return map.points.map((p) => {
        const read = map.plan.find((r) => p.address >= r.address && p.address + p.registers <= r.address + r.count);
        if (!read)
            throw new Error(`point ${p.name} is in no read of the plan`);
        return [p.name, p.type, p.order, read.address, p.address - read.address, p.scale, p.min, p.max, p.sentinel];
    });
}

// The function node's start code: the decoding table, built once into the
// node's context rather than as a literal evaluated for every message.
function decodeStart(map) {
    return `context.set("table", ${JSON.stringify(decodeTable(map))});\n`;
}

// The function node's code, table-driven like greenwatch's decoder.
function decodeFunction(map) {
    const index = {};
    map.plan.forEach((r, i) => { index[r.address] = i; });
    return `// msg.topic: the device; msg.payload: the registers of each read of the
// plan, in plan order (reads at ${map.plan.map((r) => r.address).join(", ")}); msg.polled: when
// the poll started (ms), the point's time, as greenwatch stamps a sample
// with the time of its read rather than of its processing.
const TABLE = context.get("table"), READ_INDEX = ${JSON.stringify(index)};
const word = Buffer.alloc(4);
const fields = {};
let good = 0;
for (const [name, type, wordOrder, read, offset, scale, min, max, sentinels] of TABLE) {
    const r = msg.payload[READ_INDEX[read]];
    if (!Array.isArray(r))
        continue;               // that read failed: the point is bad
    let raw;
    if (type === "uint16") {
        raw = r[offset];
    } else {
        // ABCD: high word first; CDAB: low word first
        const cdab = wordOrder === "CDAB";
        const hi = r[offset + (cdab ? 1 : 0)], lo = r[offset + (cdab ? 0 : 1)];
        if (type === "float32") {
            word.writeUInt16BE(hi, 0);
            word.writeUInt16BE(lo, 2);
            raw = word.readFloatBE(0);
        } else {
            raw = hi * 65536 + lo;
        }
    }
    if (sentinels.includes(raw))
        continue;               // "no data": uncertain, left out
    const value = raw * scale;
    if (!Number.isFinite(value) || value < min || value > max)
        continue;               // implausible: uncertain, left out
    fields[name] = value;
    good++;
}
if (!good)
    return null;
return { payload: { measurement: "generic", tags: { site: "bench", device: msg.topic },
                    fields: fields, timestamp: msg.polled } };
`;
}

function flow(o, map) {
    const nodes = [{ id: "bench", type: "tab", label: "greenwatch comparison", disabled: false, info: "" }];
    // Ids differ from every type name: Node-RED takes a config node's property
    // whose value is a config node id for a dependency (even "type").
    const joinId = "node-join", decodeId = "node-decode", batchId = "node-batch", writeId = "node-write";
    const influxId = "config-influxdb";
    const devices = o.ports.length * o.units;

    nodes.push({
        id: influxId, type: "influxdb", hostname: o.influxHost, port: o.influxPort, protocol: "http",
        database: o.database, name: "bench", usetls: false, tls: "", influxdbVersion: "1.x",
        url: `http://${o.influxHost}:${o.influxPort}`, timeout: "10", rejectUnauthorized: true,
    });
    o.ports.forEach((port, p) => {
        nodes.push({
            id: `client-${p}`, type: "modbus-client", name: `port ${port}`, clienttype: "tcp",
            bufferCommands: true, stateLogEnabled: false, queueLogEnabled: false, failureLogEnabled: false,
            tcpHost: "127.0.0.1", tcpPort: String(port), tcpType: "DEFAULT", serialPort: "/dev/null",
            serialType: "RTU-BUFFERD", serialBaudrate: "9600", serialDatabits: "8", serialStopbits: "1",
            serialParity: "none", serialConnectionDelay: "100", serialAsciiResponseStartDelimiter: "0x3A",
            unit_id: "1", commandDelay: "1", clientTimeout: "1000", reconnectOnTimeout: true,
            reconnectTimeout: "2000", parallelUnitIdsAllowed: o.parallelUnitIds, showErrors: false,
            showWarnings: false, showLogs: false,
        });
        for (let unit = 1; unit <= o.units; unit++) {
            const device = `d${p * o.units + unit - 1}`;
            const requests = map.plan.map((r) => ({ unitid: unit, fc: 3, address: r.address, quantity: r.count }));
            nodes.push({
                id: `poll-${device}`, type: "inject", z: "bench", name: device,
                props: [{ p: "payload" }, { p: "topic", vt: "str" }, { p: "polled", v: "", vt: "date" }],
                repeat: "1", crontab: "", once: true, onceDelay: "1", topic: device, payload: JSON.stringify(requests), payloadType: "json",
                x: 150, y: 40, wires: [[`split-${device}`]],
            });
            nodes.push({
                id: `split-${device}`, type: "split", z: "bench", name: device, splt: "\\n", spltType: "str",
                arraySplt: 1, arraySpltType: "len", stream: false, addname: "", x: 300, y: 40,
                wires: [[`read-${device}`]],
            });
            nodes.push({
                id: `read-${device}`, type: "modbus-flex-getter", z: "bench", name: device,
                showStatusActivities: false, showErrors: false, showWarnings: false, logIOActivities: false,
                server: `client-${p}`, useIOFile: false, ioFile: "", useIOForPayload: false,
                emptyMsgOnFail: false, keepMsgProperties: true, delayOnStart: false, startDelayTime: "",
                x: 450, y: 40, wires: [[joinId], []],
            });
        }
    });
    nodes.push({
        id: joinId, type: "join", z: "bench", name: "a poll's reads", mode: "auto", build: "object",
        property: "payload", propertyType: "msg", key: "topic", joiner: "\\n", joinerType: "str",
        useparts: false, accumulate: false, timeout: "", count: "", reduceRight: false, reduceExp: "",
        reduceInit: "", reduceInitType: "", reduceFixup: "", x: 650, y: 40, wires: [[decodeId]],
    });
    nodes.push({
        id: decodeId, type: "function", z: "bench", name: "decode", func: decodeFunction(map), outputs: 1,
        timeout: 0, noerr: 0, initialize: decodeStart(map), finalize: "", libs: [], x: 550, y: 40, wires: [[batchId]],
    });
    nodes.push({
        id: batchId, type: "join", z: "bench", name: "a second of points", mode: "custom", build: "array",
        property: "payload", propertyType: "msg", key: "topic", joiner: "\\n", joinerType: "str",
        useparts: false, accumulate: false, timeout: "1", count: String(devices), reduceRight: false,
        reduceExp: "", reduceInit: "", reduceInitType: "", reduceFixup: "", x: 750, y: 40, wires: [[writeId]],
    });
    nodes.push({
        id: writeId, type: "influxdb batch", z: "bench", influxdb: influxId, precision: "ms",
        retentionPolicy: "", name: "influxd", database: o.database, precisionV18FluxV20: "ms",
        retentionPolicyV18Flux: "", org: "", bucket: "", x: 950, y: 40, wires: [],
    });
    return nodes;
}

function main() {
    const o = parseArgs(process.argv.slice(2));
    const map = JSON.parse(fs.readFileSync(o.map, "utf8"));
    process.stdout.write(JSON.stringify(flow(o, map), null, 1) + "\n");
}

main();
