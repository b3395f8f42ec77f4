// Monaco, trimmed to what the editor needs: the editor core with its features (find, folding,
// hover…) and the Python basic language (Monarch highlighting), no other language and no
// language-service workers. The one worker Monaco needs (editor.worker) is bundled by Vite.
// Loaded lazily by the Editor view, so the other pages never pay for it.
import 'monaco-editor/esm/vs/editor/edcore.main.js';
import * as monaco from 'monaco-editor/esm/vs/editor/editor.api';
import 'monaco-editor/esm/vs/basic-languages/python/python.contribution';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker?worker';

(self as unknown as { MonacoEnvironment: monaco.Environment }).MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
};

// Disposing an editor rejects its pending work with a "Canceled" error: expected, not a bug.
addEventListener('unhandledrejection', (e) => {
  const r = e.reason as { name?: string; message?: string } | undefined;
  if (r && (r.name === 'Canceled' || r.message === 'Canceled')) e.preventDefault();
});

export { monaco };
