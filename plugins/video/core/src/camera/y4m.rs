//! The `file:` camera: a Y4M file (4:2:0, 8 bit) played in a loop, one
//! picture per call (the caller paces it at the call's frame rate).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::picture::Picture;

pub struct Y4mCamera {
    path: PathBuf,
    decoder: y4m::Decoder<BufReader<File>>,
    width: u32,
    height: u32,
}

fn open(path: &Path) -> Result<y4m::Decoder<BufReader<File>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let d = y4m::decode(BufReader::new(file))
        .map_err(|e| format!("{} is not a Y4M file: {e:?}", path.display()))?;
    match d.get_colorspace() {
        y4m::Colorspace::C420
        | y4m::Colorspace::C420jpeg
        | y4m::Colorspace::C420paldv
        | y4m::Colorspace::C420mpeg2 => {}
        other => {
            return Err(format!(
                "{} is {other:?}; the file camera reads 8-bit 4:2:0 (ffmpeg -pix_fmt yuv420p)",
                path.display()
            ))
        }
    }
    if d.get_width() % 2 == 1
        || d.get_height() % 2 == 1
        || d.get_width() > 4096
        || d.get_height() > 4096
    {
        return Err(format!(
            "{} is {}x{}: even sizes up to 4096 only",
            path.display(),
            d.get_width(),
            d.get_height()
        ));
    }
    Ok(d)
}

impl Y4mCamera {
    pub fn open(path: &Path) -> Result<Y4mCamera, String> {
        let decoder = open(path)?;
        let (width, height) = (decoder.get_width() as u32, decoder.get_height() as u32);
        let mut camera = Y4mCamera {
            path: path.to_owned(),
            decoder,
            width,
            height,
        };
        // A file without a single picture would loop forever on nothing.
        camera
            .read()?
            .ok_or_else(|| format!("{} holds no picture", path.display()))?;
        camera.decoder = open(path)?;
        Ok(camera)
    }

    fn read(&mut self) -> Result<Option<Picture>, String> {
        match self.decoder.read_frame() {
            Ok(f) => {
                let mut i420 = f.get_y_plane().to_vec();
                i420.extend_from_slice(f.get_u_plane());
                i420.extend_from_slice(f.get_v_plane());
                Picture::from_i420(self.width, self.height, i420).map(Some)
            }
            Err(y4m::Error::EOF) => Ok(None),
            Err(e) => Err(format!("{}: {e:?}", self.path.display())),
        }
    }

    /// The next picture; after the last, the first again.
    pub fn next_picture(&mut self) -> Result<Picture, String> {
        if let Some(p) = self.read()? {
            return Ok(p);
        }
        self.decoder = open(&self.path)?;
        self.read()?
            .ok_or_else(|| format!("{} holds no picture any more", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_y4m(path: &Path, frames: &[u8], colorspace: &str) {
        let mut data = format!("YUV4MPEG2 W4 H2 F25:1 Ip A1:1 {colorspace}\n").into_bytes();
        for &y in frames {
            data.extend(b"FRAME\n");
            data.extend([y; 8]);
            data.extend([128; 4]);
        }
        std::fs::write(path, data).unwrap();
    }

    #[test]
    fn a_y4m_file_loops() {
        let dir = std::env::temp_dir().join(format!("seatphone-y4m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("three.y4m");
        write_y4m(&path, &[10, 20, 30], "C420jpeg");
        let mut cam = Y4mCamera::open(&path).unwrap();
        let lumas: Vec<u8> = (0..7)
            .map(|_| cam.next_picture().unwrap().y(0, 0))
            .collect();
        assert_eq!(lumas, [10, 20, 30, 10, 20, 30, 10]);
        write_y4m(&path, &[], "C420jpeg");
        assert!(Y4mCamera::open(&path)
            .err()
            .unwrap()
            .contains("holds no picture"));
        write_y4m(&path, &[1], "C444");
        assert!(Y4mCamera::open(&path).err().unwrap().contains("4:2:0"));
        std::fs::write(&path, b"not y4m").unwrap();
        assert!(Y4mCamera::open(&path)
            .err()
            .unwrap()
            .contains("is not a Y4M file"));
        let missing = Y4mCamera::open(&dir.join("missing.y4m")).err().unwrap();
        assert!(missing.contains("cannot open"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
