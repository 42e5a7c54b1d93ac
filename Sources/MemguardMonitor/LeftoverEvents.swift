import CLibBPF
import CMemguardABI
import Glibc
import MemguardCore
import MemguardProbes

/// What a dead monitor left unread in its container's ring, read by poststop into the
/// container's log: a monitor killed (or OOM-killed) mid-run loses no event it had not yet
/// read, and those events never reach the ring's next owner.
public final class LeftoverEvents {
    let container: ContainerID
    let cgroupID: UInt64
    let log: EventLog
    var records = EventRecord()
    public private(set) var delivered: UInt64 = 0
    public private(set) var undecodable: UInt64 = 0
    /// Events of an even earlier owner of the ring (dropped, as the monitor does).
    public private(set) var previousOwner: UInt64 = 0

    public init(container: ContainerID, cgroupID: UInt64, log: EventLog) {
        self.container = container
        self.cgroupID = cgroupID
        self.log = log
    }

    /// Reads the ring in `slot` to its end.
    public func read(slot: UInt32, probes: ProbeSet) throws {
        let fd = try ContainerProbe.ringFD(slot: slot, probes: probes)
        defer { close(fd) }
        guard let ring = ring_buffer__new(fd, { ctx, data, size in
            guard let ctx, let data else { return 0 }
            Unmanaged<LeftoverEvents>.fromOpaque(ctx).takeUnretainedValue().handle(data, size)
            return 0
        }, Unmanaged.passUnretained(self).toOpaque(), nil) else {
            throw MemguardError("opening the ring buffer of container \(container)", errno: .current)
        }
        defer { ring_buffer__free(ring) }
        while ring_buffer__consume(ring) > 0 {}
        try log.flush()
    }

    private func handle(_ data: UnsafeMutableRawPointer, _ size: Int) {
        guard size >= MemoryLayout<mg_event>.size else {
            undecodable += 1
            return
        }
        let event = data.loadUnaligned(as: mg_event.self)
        guard event.cgroup_id == cgroupID else {
            previousOwner += 1
            return
        }
        log.queue(records.line(for: event, container: container))
        delivered += 1
    }
}
