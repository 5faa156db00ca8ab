package main

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// readIDX reads a gzip-compressed IDX file (the MNIST format): a big-endian magic number
// (0x00000803 for images, 0x00000801 for labels), one big-endian uint32 per dimension, then the
// uint8 values in row-major order.
func readIDX(path string, magic uint32) ([]uint8, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not gzip-compressed (%v)", path, err)
	}
	var head [4]byte
	if _, err := io.ReadFull(z, head[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated IDX header", path)
	}
	if got := binary.BigEndian.Uint32(head[:]); got != magic {
		return nil, nil, fmt.Errorf("%s: IDX magic %#08x, expected %#08x", path, got, magic)
	}
	dims := make([]int, magic&0xff)
	for i := range dims {
		if _, err := io.ReadFull(z, head[:]); err != nil {
			return nil, nil, fmt.Errorf("%s: truncated IDX header", path)
		}
		dims[i] = int(binary.BigEndian.Uint32(head[:]))
	}
	count := 1
	for _, d := range dims {
		count *= d
	}
	data := make([]uint8, count)
	if _, err := io.ReadFull(z, data); err != nil {
		return nil, nil, fmt.Errorf("%s: %d values expected, the file is shorter", path, count)
	}
	return data, dims, nil
}
