"""Cameras through OpenCV `VideoCapture`: a live device or a simulated one from files.

Device strings (settings `devices.camera`):

    0, 1, ...               device index
    /dev/video0             a V4L2 device node
    clip.mp4, clip.avi      a video file (simulation)
    frames/%03d.png         an image sequence (simulation); a single image file also works
    ...?fps=30&loop=1       options: pace file frames at `fps`, replay the file forever
    ...%03d.png?follow=0    image sequences are followed by default, like a live camera: the
                            newest file is the current view, files written later follow;
                            follow=0 reads the files in order and ends

Failures are `drivers.base` errors with an operator sentence: nothing at the path is
`DeviceNotFound`, a live camera that stops sending frames is `DeviceLost` (unplugged), a file
that holds no frames is `CameraError`.
"""

from drivers.camera.opencv import CameraOptions, OpenCvCamera, open_camera, parse_camera_device

__all__ = ["CameraOptions", "OpenCvCamera", "open_camera", "parse_camera_device"]
