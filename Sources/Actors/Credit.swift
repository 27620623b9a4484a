import Platform
import Transport

/// Flow control and acknowledgement on one link, per destination object (docs/protocol.md,
/// "Credit"). The receiving process lets each object the peer sends to have at most `window`
/// messages outstanding; as the object takes them it grants them back, and a grant is also the
/// peer's proof that those messages reached the object. So a slow object slows only the sends
/// addressed to it — the connection is always read — and when a link is lost every sender learns
/// exactly how many of its messages the far end never confirmed.
///
/// Sans-I/O: the runtime feeds it frames and dispatches, and sends what it hands back.
final class LinkCredit {
    /// What a sender may assume before the peer has said its window.
    static let initialWindow = 256
    /// Larger windows a peer announces are taken as this.
    static let maximumWindow = 1 << 20
    /// Grants per credit frame (12 bytes each).
    static let grantsPerFrame = 4_096
    /// Idle destinations are forgotten once a direction's table is this large.
    static let idleEntries = 4_096

    /// The window this end grants each destination (``RuntimeLimits/linkCredit``).
    let window: Int
    /// The peer's window for our messages to each of its objects.
    private(set) var peerWindow = LinkCredit.initialWindow

    private var inbound: [UInt64: InboundCredit] = [:]
    private var lastInbound: InboundCredit?
    private var outbound: [UInt64: OutboundCredit] = [:]
    private var lastOutbound: OutboundCredit?
    /// Destinations with senders waiting for credit.
    private var starved: [OutboundCredit] = []
    let link: ConnectionID

    init(link: ConnectionID, window: Int) {
        self.link = link
        self.window = window
    }

    // MARK: Receiving side

    /// A message for `destination` arrived; nil when it is beyond the window this end granted
    /// (a peer that ignores credit: bad input).
    @inline(__always)
    func received(for destination: UInt64) -> InboundCredit? {
        let credit: InboundCredit
        if let last = lastInbound, last.destination == destination {
            credit = last
        } else {
            credit = inboundEntry(destination)
        }
        guard credit.ungranted < window else { return nil }
        credit.ungranted += 1
        return credit
    }

    private func inboundEntry(_ destination: UInt64) -> InboundCredit {
        if let known = inbound[destination] {
            lastInbound = known
            return known
        }
        if inbound.count >= Self.idleEntries { inbound = inbound.filter { $0.value.ungranted > 0 } }
        let fresh = InboundCredit(destination: destination, link: link)
        inbound[destination] = fresh
        lastInbound = fresh
        return fresh
    }

    // MARK: Sending side

    /// The account of `destination` if a message may go to it now; nil when its credit is spent
    /// (`sender`, if local, is then told ``Writable`` when a grant makes room).
    @inline(__always)
    func mayGo(to destination: UInt64, waiting sender: Address) -> OutboundCredit? {
        let credit: OutboundCredit
        if let last = lastOutbound, last.destination == destination {
            credit = last
        } else {
            credit = outboundEntry(destination)
        }
        guard credit.unconfirmed < peerWindow else {
            if sender.isLocal, !credit.waiting.contains(sender) {
                if credit.waiting.isEmpty { starved.append(credit) }
                credit.waiting.append(sender)
            }
            return nil
        }
        return credit
    }

    private func outboundEntry(_ destination: UInt64) -> OutboundCredit {
        if let known = outbound[destination] {
            lastOutbound = known
            return known
        }
        if outbound.count >= Self.idleEntries {
            outbound = outbound.filter { $0.value.unconfirmed > 0 || !$0.value.waiting.isEmpty }
        }
        let fresh = OutboundCredit(destination: destination)
        outbound[destination] = fresh
        lastOutbound = fresh
        return fresh
    }

    /// Why a credit frame is refused: the peer is not keeping to the protocol.
    enum Violation: Error, Equatable, CustomStringConvertible {
        case malformed(Int)
        case overConfirmed(destination: UInt64, granted: Int, outstanding: Int)

        var description: String {
            switch self {
            case .malformed(let length): return "credit frame of \(length) bytes is not a whole number of grants"
            case .overConfirmed(let destination, let granted, let outstanding):
                return
                    """
                    peer granted \(granted) messages for object \(String(destination, radix: 16)) with \(outstanding) \
                    outstanding
                    """
            }
        }
    }

    /// A credit frame from the peer: its window (in the header's return-address field) and grants.
    /// Returns the senders that waited for room and now have it.
    func granted(window: UInt64, grants body: Span<UInt8>) throws(Violation) -> [Address] {
        guard body.count % 12 == 0 else { throw .malformed(body.count) }
        peerWindow = Int(min(max(window, 1), UInt64(Self.maximumWindow)))
        var writable: [Address] = [] // empty: no allocation unless someone waited
        var offset = 0
        while offset < body.count {
            let destination = body.loadLittleEndian(UInt64.self, at: offset)
            let count = body.loadLittleEndian(UInt32.self, at: offset + 8)
            offset += 12
            guard let credit = outbound[destination], Int(count) <= credit.unconfirmed else {
                throw .overConfirmed(
                    destination: destination, granted: Int(count), outstanding: outbound[destination]?.unconfirmed ?? 0)
            }
            credit.confirmed(Int(count))
        }
        // A grant, or a larger window, may have made room.
        guard !starved.isEmpty else { return [] }
        starved.removeAll { credit in
            guard credit.unconfirmed < peerWindow else { return false }
            writable.append(contentsOf: credit.waiting)
            credit.waiting.removeAll()
            return true
        }
        return writable
    }

    /// What the peer never confirmed, by sender and destination: for when the link is lost.
    func unconfirmed() -> [(sender: Address, destination: UInt64, count: Int)] {
        var result: [(Address, UInt64, Int)] = []
        for (destination, credit) in outbound where credit.unconfirmed > 0 {
            for (sender, count) in credit.bySender() { result.append((sender, destination, count)) }
        }
        return result
    }

    /// Senders still waiting for credit (when the link is lost, they wait no more).
    func waitingSenders() -> [Address] { starved.flatMap(\.waiting) }
}

/// The receiver's account of one destination on one link.
final class InboundCredit {
    /// The destination as the peer names it (0: the link's owner).
    let destination: UInt64
    let link: ConnectionID
    /// Received and not yet granted back.
    var ungranted = 0
    /// Of those, taken by the object (or settled: forwarded, refused, undeliverable) and due to be granted.
    var due = 0
    /// On the runtime's list of credits to grant at the end of the turn.
    var listed = false

    init(destination: UInt64, link: ConnectionID) {
        self.destination = destination
        self.link = link
    }
}

/// The sender's account of one destination on one link.
final class OutboundCredit {
    let destination: UInt64
    /// Sent and not yet confirmed by a grant.
    private(set) var unconfirmed = 0
    /// Who sent the unconfirmed messages, oldest first, in runs of one sender; the peer takes each
    /// destination's messages in order, so grants settle them from the front.
    private var runs: [(sender: Address, count: Int)] = []
    private var head = 0
    /// Local senders refused for want of credit.
    var waiting: [Address] = []

    init(destination: UInt64) { self.destination = destination }

    @inline(__always)
    func sent(by sender: Address) {
        unconfirmed += 1
        if head < runs.count, runs[runs.count - 1].sender == sender {
            runs[runs.count - 1].count += 1
        } else {
            runs.append((sender, 1))
        }
    }

    func confirmed(_ count: Int) {
        unconfirmed -= count
        var left = count
        while left > 0 {
            let take = min(left, runs[head].count)
            runs[head].count -= take
            left -= take
            if runs[head].count == 0 { head += 1 }
        }
        if head == runs.count {
            runs.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > runs.count {
            runs.removeFirst(head)
            head = 0
        }
    }

    func bySender() -> [(Address, Int)] {
        var totals: [(Address, Int)] = []
        for run in runs[head...] {
            if let index = totals.firstIndex(where: { $0.0 == run.sender }) {
                totals[index].1 += run.count
            } else {
                totals.append((run.sender, run.count))
            }
        }
        return totals
    }
}

/// Writes credit frames: header (type 0, destination 0, the window in the return-address field)
/// and 12-byte grants (destination u64, count u32, little-endian).
enum CreditFrame {
    static func header(window: Int) -> FrameHeader {
        FrameHeader(typeID: Runtime.declarationType, bodyLength: 0, destination: 0, returnAddress: UInt64(window))
    }

    static func append(destination: UInt64, count: Int, to body: inout [UInt8]) {
        for index in 0..<8 { body.append(UInt8(truncatingIfNeeded: destination >> (8 * UInt64(index)))) }
        for index in 0..<4 { body.append(UInt8(truncatingIfNeeded: UInt64(count) >> (8 * UInt64(index)))) }
    }
}
