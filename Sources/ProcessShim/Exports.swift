// A program run as a node uses the whole runtime: importing the shim brings publish/subscribe and
// the actors with it.
@_exported import PubSub
