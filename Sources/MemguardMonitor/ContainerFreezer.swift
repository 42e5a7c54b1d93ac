import Glibc
import MemguardCore

/// enforce + action=freeze: the kernel has already stopped the offender (SIGSTOP, before it ran
/// another instruction); this freezes the whole container through cgroup v2's cgroup.freeze
/// (present in the unified hierarchy on hybrid hosts too) and says how to inspect and thaw it.
struct ContainerFreezer {
    let cgroupDir: String
    private(set) var frozen = false

    init(cgroupDir: String) { self.cgroupDir = cgroupDir }

    mutating func freeze(offender: UInt32, initPID: Int32, container: ContainerID) -> JSONLine {
        var line = EventLog.record(container, event: "container-frozen")
        line.add("severity", "critical")
        line.add("offender_pid", offender)
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        do {
            let fd = try sys("opening \(cgroupDir)/cgroup.freeze") { open("\(cgroupDir)/cgroup.freeze", O_WRONLY | O_CLOEXEC) }
            defer { close(fd) }
            try FileSystem.writeAll(fd: fd, Array("1".utf8), what: "\(cgroupDir)/cgroup.freeze")
            while !isFrozen() && Clock.millisecondsSince(start) < 2000 { usleep(500) }
            frozen = isFrozen()
            line.add("frozen", frozen)
            line.add("took_ms", fraction: Clock.millisecondsSince(start))
            line.add("inspect", "cat \(cgroupDir)/cgroup.procs; nsenter -t \(initPID) -a ps; cat /proc/\(offender)/maps")
            line.add("thaw", "echo 0 > \(cgroupDir)/cgroup.freeze (the offender stays stopped: kill -KILL \(offender), or kill -CONT \(offender) to let it go on)")
        } catch {
            line.add("frozen", false)
            line.add("error", "\(error)")
        }
        return line
    }

    func isFrozen() -> Bool {
        ((try? FileSystem.readText("\(cgroupDir)/cgroup.events", limit: 4096)) ?? "").split(separator: "\n").contains("frozen 1")
    }
}
