// File uploads with a progress bar (ISOs, template images). fetch() cannot report upload
// progress, so this uses XHR.
//
// `PUT /api/admin/isos/{name}` with the raw file as the body (Content-Type:
// application/octet-stream): the server streams it to a temp file in the ISO dir and renames it
// into place when complete — no multipart parsing, no buffering of a multi-gigabyte file.
import { ApiError, type ApiErrorBody } from './errors';
import { getSession, refreshSession } from './session';

export interface UploadHandle { promise: Promise<void>; abort: () => void }

export function uploadIso(file: File, name: string, onProgress: (fraction: number) => void): UploadHandle {
  return uploadRaw('PUT', `/api/admin/isos/${encodeURIComponent(name)}`, file, onProgress);
}

/** A cloud image (qcow2) becomes a template: `POST /api/templates/import?name=…` with the raw file. */
export function uploadTemplateImage(file: File, query: Record<string, string>, onProgress: (fraction: number) => void): UploadHandle {
  return uploadRaw('POST', `/api/templates/import?${new URLSearchParams(query).toString()}`, file, onProgress);
}

function uploadRaw(method: 'PUT' | 'POST', url: string, file: File, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  let aborted = false;
  const attempt = (retried: boolean): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      xhr.open(method, url);
      const token = getSession().token;
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        if (xhr.status === 401 && !retried) {
          // A long upload can outlive the access token: refresh and send again.
          void refreshSession().then((ok) => (ok ? attempt(true).then(resolve, reject) : reject(new ApiError(401, { message: 'Session expired' }))));
          return;
        }
        let body: Partial<ApiErrorBody> = {};
        try {
          body = JSON.parse(xhr.responseText) as Partial<ApiErrorBody>;
        } catch {
          body = { message: `Upload failed: ${xhr.status} ${xhr.statusText}` };
        }
        reject(new ApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new ApiError(0, { message: 'Upload interrupted: the connection to the server failed' }));
      xhr.onabort = () => reject(new ApiError(0, { message: aborted ? 'Upload cancelled' : 'Upload aborted' }));
      xhr.send(file);
    });
  return {
    promise: attempt(false),
    abort: () => {
      aborted = true;
      xhr.abort();
    },
  };
}
