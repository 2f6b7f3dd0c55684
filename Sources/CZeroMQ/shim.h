// Umbrella header for the libzmq system library.
//
// Besides <zmq.h> it exposes eventfd(2) and timerfd(2): Swift's Glibc module exports neither,
// and the socket loop uses an eventfd to wake its poller and a timerfd for its timers.
#ifndef GANGLION_CZEROMQ_SHIM_H
#define GANGLION_CZEROMQ_SHIM_H

#include <zmq.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#endif
