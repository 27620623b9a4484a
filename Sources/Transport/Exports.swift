// A transport runs on a reactor, and the layer above drives that reactor through it: its loop,
// handlers, events, timer spaces and limits come with Transport, so Actors imports one module.
@_exported import Reactor
