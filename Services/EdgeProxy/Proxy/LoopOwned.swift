import NIOCore

/// A value that belongs to one event loop and is touched only on it (asserted in debug builds). Unlike
/// `NIOLoopBound`, it can be made off the loop, which the proxy needs to build one pool and one tally per loop
/// before the loops serve anything.
struct LoopOwned<Value>: @unchecked Sendable {
    private let stored: Value
    let eventLoop: any EventLoop

    init(_ value: Value, eventLoop: any EventLoop) {
        self.stored = value
        self.eventLoop = eventLoop
    }

    var value: Value {
        eventLoop.assertInEventLoop()
        return stored
    }
}
