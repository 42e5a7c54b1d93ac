import CMemguardABI
import Glibc
import MemguardCore
import MemguardProbes

/// `memguard ps`: the monitored containers, from memguard's state files and the kernel's
/// counters.
public enum PsCommand {
    public struct Row {
        public var id: String
        public var mode: String
        public var action: String
        public var initPID: Int32
        public var cgroupID: UInt64
        public var events: UInt64
        public var monitorPID: Int32
        public var monitorAlive: Bool
        public var uptimeSeconds: UInt64
    }

    public static func rows(paths: MemguardPaths) -> [Row] {
        let scopes = try? BPFMap(pinned: "\(paths.pinDir)/mg_scopes")
        let ticks = UInt64(sysconf(Int32(_SC_CLK_TCK)))
        let uptime = (try? FileSystem.readText("/proc/uptime", limit: 128)).flatMap { Double($0.split(separator: " ").first ?? "") } ?? 0
        return FileSystem.list(paths.containersDir).filter { $0.hasSuffix(".state") }.compactMap { name in
            guard let record = try? StateRecord.load("\(paths.containersDir)/\(name)") else { return nil }
            let counters = scopes?.lookup(key: record.cgroupID, as: mg_scope.self)
            let alive = processStartTime(record.monitorPID) == record.monitorStart
            let started = Double(record.monitorStart) / Double(ticks)
            return Row(id: record.containerID, mode: record.mode, action: record.action, initPID: record.initPID,
                       cgroupID: record.cgroupID, events: counters?.eventCounts.reduce(0) { $0 + $1.count } ?? 0,
                       monitorPID: record.monitorPID, monitorAlive: alive,
                       uptimeSeconds: alive && uptime > started ? UInt64(uptime - started) : 0)
        }
    }

    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print("usage: memguard ps [--json]\n\nThe monitored containers: mode, action, init pid, cgroup id, events so far, monitor pid, uptime.")
            return 0
        }
        guard arguments.allSatisfy({ $0 == "--json" }) else {
            printError("memguard ps: unknown argument '\(arguments.first { $0 != "--json" }!)' (see memguard ps --help)")
            return 2
        }
        let rows = rows(paths: paths)
        if arguments.contains("--json") {
            print("[" + rows.map { row in
                var line = JSONLine()
                line.add("container", row.id)
                line.add("mode", row.mode)
                // The action applies in enforce mode only (as the text view's "-" says).
                if row.mode == "enforce" { line.add("action", row.action) }
                line.add("init_pid", row.initPID)
                line.add("cgroup_id", row.cgroupID)
                line.add("events", row.events)
                line.add("monitor_pid", row.monitorPID)
                line.add("monitor_alive", row.monitorAlive)
                line.add("uptime_seconds", row.uptimeSeconds)
                return line.rendered
            }.joined(separator: ",") + "]")
        } else if rows.isEmpty {
            print("no monitored containers (state in \(paths.containersDir))")
        } else {
            print(Table.render(["CONTAINER", "MODE", "ACTION", "INIT", "CGROUP", "EVENTS", "MONITOR", "UPTIME"], rows.map { row in
                [row.id.count > 24 ? String(row.id.prefix(24)) + "…" : row.id, row.mode, row.mode == "enforce" ? row.action : "-",
                 "\(row.initPID)", "\(row.cgroupID)", "\(row.events)", row.monitorAlive ? "\(row.monitorPID)" : "\(row.monitorPID) (gone)",
                 Operator.duration(row.uptimeSeconds)]
            }), terminator: "")
        }
        return 0
    }
}
