// A C target needs one source file; everything CSodium offers is in sodium.h.
