import Platform
import Transport

/// A timer is one per object and message type.
struct TimerKey: Hashable {
    let object: UInt64
    let type: UInt32
}

struct TimerRecord {
    var timer: TimerID
    /// When it is due; a repeating timer's next deadline counts from here, so it does not drift.
    var due: Deadline
    let tag: UInt64
    let message: any Message
    let interval: Duration?
}

extension Runtime {
    func startTimer(_ message: some Message, after delay: Duration, repeating: Bool, for address: Address) {
        guard address.isLocal, slot(of: address.object) != nil else { return }
        let key = TimerKey(object: address.object, type: MessageType.identifier(of: type(of: message).typeName))
        if let old = timers.removeValue(forKey: key) {
            reactor.cancelTimer(old.timer)
            timerTags[old.tag] = nil
        }
        let tag = nextTimerTag
        nextTimerTag += 1
        do {
            let due = Deadline.after(delay)
            let timer = try reactor.startTimer(at: due, tag: tag, in: timerSpace)
            timers[key] = TimerRecord(
                timer: timer, due: due, tag: tag, message: message, interval: repeating ? delay : nil)
            timerTags[tag] = key
        } catch {
            // The reactor's timer table is full: say so to the object rather than never firing.
            logger.error("timer not started", metadata: ["object": "\(address)", "reason": "\(error)"])
            post(Faulted("timer not started", explanation: "\(error)"), to: address.object, from: .none)
        }
    }

    func cancelTimer(_ type: UInt32, for address: Address) {
        guard let record = timers.removeValue(forKey: TimerKey(object: address.object, type: type)) else { return }
        reactor.cancelTimer(record.timer)
        timerTags[record.tag] = nil
    }

    func cancelTimers(of object: UInt64) {
        for key in timers.keys where key.object == object {
            cancelTimer(key.type, for: Address(local: object))
        }
    }

    func timerFired(_ timer: TimerID, tag: UInt64) {
        guard let key = timerTags[tag], var record = timers[key], record.timer == timer else { return }
        post(record.message, to: key.object, from: Address(local: key.object))
        guard let interval = record.interval else {
            timers[key] = nil
            timerTags[tag] = nil
            return
        }
        // A loop that fell behind skips the missed ticks rather than firing a burst.
        record.due = max(record.due + interval, .now())
        guard let next = try? reactor.startTimer(at: record.due, tag: tag, in: timerSpace) else {
            timers[key] = nil
            timerTags[tag] = nil
            post(Faulted("repeating timer stopped", explanation: "timer table full"), to: key.object, from: .none)
            return
        }
        record.timer = next
        timers[key] = record
    }
}
