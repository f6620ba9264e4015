package upstream

import (
	"net/http/httputil"
	"sync"
)

const bufferSize = 32 << 10

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies
// through. It stores array pointers, so that Put allocates nothing
// (a []byte in a sync.Pool would be boxed on every Put).
type bufferPool struct {
	p sync.Pool
}

var _ httputil.BufferPool = (*bufferPool)(nil)

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[bufferSize]byte); ok {
		return buf[:]
	}
	return new([bufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < bufferSize {
		return
	}
	b.p.Put((*[bufferSize]byte)(buf[:bufferSize]))
}
