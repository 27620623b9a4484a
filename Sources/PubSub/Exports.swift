// Publishing and subscribing are done from Actors' objects: a program imports PubSub alone. The
// relay WAN directories hand out and `ansar relay` runs comes with Actors.
@_exported import Actors
