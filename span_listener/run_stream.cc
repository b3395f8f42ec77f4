// RunStream.
#include "span_listener/run_stream.h"

#include <utility>

namespace hero::spans {

RunStream::RunStream(Limits limits, std::string root_name, AssemblerSink* sink)
    : framer_(limits.max_line_bytes), assembler_(limits, std::move(root_name), sink) {}

void RunStream::Feed(std::string_view bytes) {
  if (assembler_.finished()) return;
  framer_.Feed(bytes, [this](std::string_view line) { OnLine(line); });
  assembler_.SetOversizeLines(framer_.oversize_lines());
}

void RunStream::Finish(EndOutcome outcome, std::string_view reason, int64_t now_us) {
  if (!assembler_.finished()) {
    framer_.Finish([this](std::string_view line) { OnLine(line); });
    assembler_.SetOversizeLines(framer_.oversize_lines());
  }
  assembler_.Finish(outcome, reason, now_us);
}

void RunStream::OnLine(std::string_view line) {
  assembler_.NoteLine();
  switch (parser_.Parse(line, &event_, &error_)) {
    case ParseOutcome::kOk:
      assembler_.Apply(event_);
      break;
    case ParseOutcome::kMalformed:
      assembler_.NoteMalformed(line, error_);
      break;
    case ParseOutcome::kUnknownType:
      assembler_.NoteUnknownType();
      break;
  }
  // Do not pin a 1 MiB text buffer per idle run after one big line.
  if (line.size() > (64u << 10)) event_ = Event();
}

}  // namespace hero::spans
