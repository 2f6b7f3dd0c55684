// Umbrella header for the libzmq system library.
//
// Besides <zmq.h> it exposes eventfd(2): Swift's Glibc module does not export
// <sys/eventfd.h>, and the socket loop uses an eventfd to wake its poller.
#ifndef GANGLION_CZEROMQ_SHIM_H
#define GANGLION_CZEROMQ_SHIM_H

#include <zmq.h>
#include <sys/eventfd.h>

#endif
