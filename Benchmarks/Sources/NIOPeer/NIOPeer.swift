// SwiftNIO as a user would write the same two benchmarks: a plain TCP echo and a framed one-way
// stream (4-byte length, then the payload), server and client each on an event loop of its own.
// Only here, as a peer to measure against: the main package is its own reactor.
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Writes back whatever it reads.
final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}

/// Sends `size` bytes, waits for them to come back, and again: `count` timed after `warmup`.
final class PingPong: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let size: Int
    let warmup: Int
    let count: Int
    let done: EventLoopPromise<[UInt64]>
    var message: ByteBuffer
    var pending = 0
    var finished = 0
    var sentAt: UInt64 = 0
    var times: [UInt64] = []

    init(size: Int, warmup: Int, count: Int, done: EventLoopPromise<[UInt64]>) {
        self.size = size
        self.warmup = warmup
        self.count = count
        self.done = done
        message = ByteBuffer(repeating: 0x5A, count: size)
        times.reserveCapacity(count)
    }

    func channelActive(context: ChannelHandlerContext) { send(context) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending -= unwrapInboundIn(data).readableBytes
        guard pending <= 0 else { return }
        if finished >= warmup { times.append(monotonicNanoseconds() - sentAt) }
        finished += 1
        if finished == warmup + count {
            done.succeed(times)
            context.close(promise: nil)
        } else {
            send(context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error)
        context.close(promise: nil)
    }

    private func send(_ context: ChannelHandlerContext) {
        pending = size
        sentAt = monotonicNanoseconds()
        context.writeAndFlush(wrapOutboundOut(message), promise: nil)
    }
}

/// Counts whole frames; an empty one ends the stream and reports messages and seconds.
struct FrameCounting: ByteToMessageDecoder {
    typealias InboundOut = Never

    let done: EventLoopPromise<(UInt64, Double)>
    var messages: UInt64 = 0
    var firstAt: UInt64 = 0

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        if length == 0 {
            done.succeed((messages, Double(monotonicNanoseconds() - firstAt) / 1e9))
            return .continue
        }
        if messages == 0 { firstAt = monotonicNanoseconds() }
        messages += 1
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes frames while the channel is writable, for `seconds`; then the empty frame.
final class FrameStreaming: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let frame: ByteBuffer
    let end: ByteBuffer
    let seconds: Double
    var until: UInt64 = 0
    var ended = false

    init(size: Int, seconds: Double) {
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(size), endianness: .little)
        frame.writeRepeatingByte(0x5A, count: size)
        self.frame = frame
        var end = ByteBuffer()
        end.writeInteger(UInt32(0), endianness: .little)
        self.end = end
        self.seconds = seconds
    }

    func channelActive(context: ChannelHandlerContext) {
        until = monotonicNanoseconds() + UInt64(seconds * 1e9)
        pump(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) { pump(context) }

    private func pump(_ context: ChannelHandlerContext) {
        while !ended && context.channel.isWritable {
            for _ in 0..<64 { context.write(wrapOutboundOut(frame), promise: nil) }
            context.flush()
            if monotonicNanoseconds() >= until {
                ended = true
                context.writeAndFlush(wrapOutboundOut(end), promise: nil)
            }
        }
    }
}

public enum NIOPeer {
    /// `count` round trips of `size` bytes after `warmup`, in nanoseconds.
    public static func roundTrips(size: Int, warmup: Int, count: Int) throws -> [UInt64] {
        let serverLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? clientLoop.syncShutdownGracefully()
            try? serverLoop.syncShutdownGracefully()
        }
        let server = try ServerBootstrap(group: serverLoop)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let done = clientLoop.next().makePromise(of: [UInt64].self)
        _ = try ClientBootstrap(group: clientLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        PingPong(size: size, warmup: warmup, count: count, done: done))
                }
            }
            .connect(to: server.localAddress!).wait()
        return try done.futureResult.wait()
    }

    /// Frames of `size` bytes streamed for `seconds`: messages the server counted, and seconds.
    public static func oneWay(size: Int, seconds: Double) throws -> (messages: UInt64, elapsed: Double) {
        let serverLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? clientLoop.syncShutdownGracefully()
            try? serverLoop.syncShutdownGracefully()
        }
        let done = serverLoop.next().makePromise(of: (UInt64, Double).self)
        let server = try ServerBootstrap(group: serverLoop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameCounting(done: done)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let client = try ClientBootstrap(group: clientLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FrameStreaming(size: size, seconds: seconds))
                }
            }
            .connect(to: server.localAddress!).wait()
        let counted = try done.futureResult.wait()
        try? client.close().wait()
        return counted
    }
}
