//! Unix domain stream sockets: binding (and cleaning up) a socket file, dialing a path.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::socket::{ListenIo, SocketListener, Stream};
use super::Addr;
use crate::Error;

impl ListenIo for UnixListener {
    type Stream = UnixStream;

    fn accept_one(&self) -> io::Result<(UnixStream, Addr, Addr)> {
        let (stream, peer) = self.accept()?;
        let local = stream.local_addr()?;
        Ok((
            stream,
            Addr::unix(local.as_pathname()),
            Addr::unix(peer.as_pathname()),
        ))
    }
}

/// A listening Unix socket that removes its socket file when it is closed or dropped, unless
/// the file was replaced meanwhile (a later listener's file is left alone).
pub(crate) struct UnixListen {
    pub(crate) socket: SocketListener<UnixListener>,
    path: PathBuf,
    /// Device and inode of the socket file this listener created.
    file: (u64, u64),
}

impl UnixListen {
    /// Binds `path`. A socket file left behind by a listener that no longer exists (a process
    /// that died without closing it: dialing it is refused) is replaced; a path held by a live
    /// listener, or by anything that is not a socket, fails with [`Error::AddrInUse`].
    pub(crate) fn bind(path: &Path, backlog: u32) -> Result<UnixListen, Error> {
        let listener = match bind(path, backlog) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && is_stale(path) => {
                std::fs::remove_file(path).map_err(|e| Error::from_os(&e))?;
                bind(path, backlog)
            }
            other => other,
        }
        .map_err(|e| Error::from_os(&e))?;
        let meta = std::fs::metadata(path).map_err(|e| Error::from_os(&e))?;
        Ok(UnixListen {
            socket: SocketListener::new(listener, Addr::unix(Some(path)))
                .map_err(|e| Error::from_os(&e))?,
            path: path.to_path_buf(),
            file: (meta.dev(), meta.ino()),
        })
    }

    /// Closes the socket, then removes its file if it is still the one bound.
    pub(crate) fn close(&self) {
        if self.socket.close() {
            if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
                if (meta.dev(), meta.ino()) == self.file {
                    let _ = std::fs::remove_file(&self.path);
                }
            }
        }
    }
}

impl Drop for UnixListen {
    fn drop(&mut self) {
        self.close();
    }
}

fn bind(path: &Path, backlog: u32) -> io::Result<UnixListener> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Whether `path` is a socket file nobody listens on: a dial to it is refused. The probe
/// never blocks (a live listener with a full backlog answers at once that it is busy).
fn is_stale(path: &Path) -> bool {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    let refused = || -> io::Result<bool> {
        let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        probe.set_nonblocking(true)?;
        Ok(probe
            .connect(&SockAddr::unix(path)?)
            .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused))
    };
    is_socket && refused().unwrap_or(false)
}

/// Dials `path`. A path with no socket file, or a file nobody listens on, is
/// [`Error::ConnectionRefused`]; a listener whose backlog is full is
/// [`Error::ListenQueueFull`] at once, as for `chan://`.
pub(crate) fn connect(path: &Arc<Path>) -> Result<Stream<UnixStream>, Error> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| Error::from_os(&e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::from_os(&e))?;
    let addr = SockAddr::unix(&**path).map_err(|e| Error::from_os(&e))?;
    // A Unix stream connect completes at once (or finds the backlog full): it never waits
    // for the listener to accept.
    match socket.connect(&addr) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Error::ListenQueueFull),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::ConnectionRefused),
        Err(e) => return Err(Error::from_os(&e)),
    }
    let stream: UnixStream = socket.into();
    Stream::new(stream, Addr::unix(None), Addr::unix(Some(path))).map_err(|e| Error::from_os(&e))
}
