package rpc

// streamTable maps stream ids to a connection's open streams. Most
// connections have one or two streams open at a time, which a few
// inline slots hold without a map: a call puts its stream in the table
// and takes it out again on both sides, and on a cold cache (an agent
// is idle between calls, and the machine runs other things) the map's
// code and memory cost more than the slots do. Streams beyond the slots
// go to a map made when first needed. Stream id 0 is never a stream's
// (it carries HELLO and PING), so 0 marks a free slot.
type streamTable struct {
	ids   [streamSlots]uint32
	slots [streamSlots]*streamCore
	more  map[uint32]*streamCore
	n     int
}

// streamSlots is the number of streams held without a map.
const streamSlots = 4

// get returns stream id, or nil.
func (t *streamTable) get(id uint32) *streamCore {
	if id == 0 {
		return nil
	}
	for i, v := range t.ids {
		if v == id {
			return t.slots[i]
		}
	}
	return t.more[id] // nil map: nil
}

// put adds stream id, which must not be in the table.
func (t *streamTable) put(id uint32, s *streamCore) {
	t.n++
	for i, v := range t.ids {
		if v == 0 {
			t.ids[i], t.slots[i] = id, s
			return
		}
	}
	if t.more == nil {
		t.more = make(map[uint32]*streamCore)
	}
	t.more[id] = s
}

// take removes stream id and returns it, or nil.
func (t *streamTable) take(id uint32) *streamCore {
	if id == 0 {
		return nil
	}
	for i, v := range t.ids {
		if v == id {
			s := t.slots[i]
			t.ids[i], t.slots[i] = 0, nil
			t.n--
			return s
		}
	}
	s, ok := t.more[id]
	if ok {
		delete(t.more, id)
		t.n--
	}
	return s
}

// len returns the number of streams in the table.
func (t *streamTable) len() int { return t.n }

// appendAll appends every stream in the table to dst.
func (t *streamTable) appendAll(dst []*streamCore) []*streamCore {
	for i, v := range t.ids {
		if v != 0 {
			dst = append(dst, t.slots[i])
		}
	}
	for _, s := range t.more {
		dst = append(dst, s)
	}
	return dst
}
