"""Training input as users feed it: torch Datasets and DataLoaders over files trajforge wrote.

  torch_pipeline.py lerobot ROOT COLUMNS.json   LeRobot v3: meta/info.json, per-frame columns, mp4 decoded by PyAV
  torch_pipeline.py dreamer REPLAY_DIR          DreamerV3 replay chunks loaded with np.load

Each trains a tiny model for a few Adam steps and prints one JSON line: shapes, losses, checks.
Debian bookworm packages no parquet reader for Python (no pyarrow, no fastparquet), so the data and
episodes parquet columns arrive in COLUMNS.json, read by DuckDB on the Node side.
"""
import glob
import json
import os
import sys

import av
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)
torch.set_num_threads(1)


class LeRobotFrames(Dataset):
    """One item per frame, as LeRobotDataset gives it: the camera frame (CHW float in [0,1]) at
    from_timestamp + timestamp in the episode's shared mp4, the state and the action."""

    def __init__(self, root, columns):
        info = json.load(open(os.path.join(root, 'meta/info.json')))
        self.fps = info['fps']
        key = next(k for k, f in info['features'].items() if f['dtype'] == 'video')
        self.shape = info['features'][key]['shape']
        ep = columns['episodes']
        self.from_ts = dict(zip(ep['episode_index'], ep['from_timestamp']))
        path = info['video_path'].format(video_key=key, chunk_index=ep['chunk_index'][0], file_index=ep['file_index'][0])
        # Decode the whole (small) file once: frames with their presentation times in seconds.
        with av.open(os.path.join(root, path)) as c:
            stream = c.streams.video[0]
            decoded = [(float(f.pts * stream.time_base), f.to_ndarray(format='rgb24')) for f in c.decode(stream)]
        self.pts = np.array([p for p, _ in decoded])
        self.frames = np.stack([f for _, f in decoded])
        d = columns['data']
        self.state = torch.tensor(d['observation.state'], dtype=torch.float32)
        self.action = torch.tensor(d['action'], dtype=torch.float32)
        self.episode = d['episode_index']
        self.timestamp = d['timestamp']
        self.max_error = 0.0

    def __len__(self):
        return len(self.state)

    def __getitem__(self, i):
        # LeRobot's query: the frame at round(ts * fps), which must sit within 1e-4 s of ts.
        ts = self.from_ts[self.episode[i]] + self.timestamp[i]
        k = int(round(ts * self.fps))
        self.max_error = max(self.max_error, abs(self.pts[k] - ts))
        image = torch.from_numpy(self.frames[k]).permute(2, 0, 1).float() / 255
        return {'observation.image': image, 'observation.state': self.state[i], 'action': self.action[i], 'pts_error': abs(self.pts[k] - ts)}


class DreamerWindows(Dataset):
    """Fixed-length windows of consecutive steps from DreamerV3 replay chunks, as its replay samples them."""

    def __init__(self, replay, length=8):
        self.chunks = [dict(np.load(f)) for f in sorted(glob.glob(os.path.join(replay, '*.npz')))]
        self.index = [(c, s) for c, ch in enumerate(self.chunks) for s in range(len(ch['reward']) - length + 1)]
        self.length = length

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        c, s = self.index[i]
        ch = self.chunks[c]
        w = slice(s, s + self.length)
        return {'image': torch.from_numpy(ch['image'][w]).permute(0, 3, 1, 2).float() / 255, 'action': torch.from_numpy(ch['action'][w]),
                'reward': torch.from_numpy(ch['reward'][w]), 'is_first': torch.from_numpy(ch['is_first'][w]), 'state': torch.from_numpy(ch['state'][w])}


class TinyConv(torch.nn.Module):
    def __init__(self, extra, out):
        super().__init__()
        self.conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 4, stride=4), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 4, stride=4), torch.nn.ReLU(), torch.nn.Flatten())
        self.head = torch.nn.Sequential(torch.nn.Linear(8 * 4 * 4 + extra, 32), torch.nn.ReLU(), torch.nn.Linear(32, out))

    def forward(self, image, extra):
        return self.head(torch.cat([self.conv(image), extra], dim=-1))


def fit(model, batches, loss_of, steps=200):
    """Adam on the same few batches: the loss must be finite and fall."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(steps):
        batch = batches[step % len(batches)]
        loss = loss_of(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    with torch.no_grad():
        final = [float(loss_of(model, b)) for b in batches]
    return losses, final


def lerobot(root, columns_file):
    ds = LeRobotFrames(root, json.load(open(columns_file)))
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(loader)
    b = batches[0]
    model = TinyConv(ds.state.shape[1], ds.action.shape[1])
    # Behaviour cloning: the action from the camera frame and the state.
    loss_of = lambda m, x: torch.nn.functional.mse_loss(m(x['observation.image'], x['observation.state']), x['action'])
    with torch.no_grad():
        initial = [float(loss_of(model, x)) for x in batches]
    losses, final = fit(model, batches, loss_of)
    print(json.dumps({'items': len(ds), 'decoded_frames': len(ds.frames), 'batches': len(batches), 'image': list(b['observation.image'].shape),
                      'image_range': [float(b['observation.image'].min()), float(b['observation.image'].max())], 'state': list(b['observation.state'].shape),
                      'action': list(b['action'].shape), 'max_pts_error': ds.max_error, 'initial': float(np.mean(initial)), 'final': float(np.mean(final)), 'losses': losses}))


def dreamer(replay):
    ds = DreamerWindows(replay)
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(loader)[:4]
    b = batches[0]
    B, T = b['action'].shape[:2]
    model = TinyConv(b['action'].shape[-1], b['state'].shape[-1] + 1)
    # A one-step model: (frame_t, action_t) -> (state_t+1, reward_t+1), the official step semantics.
    def loss_of(m, x):
        pred = m(x['image'][:, :-1].reshape(-1, 3, 64, 64), x['action'][:, :-1].reshape(B * (T - 1), -1))
        target = torch.cat([x['state'][:, 1:], x['reward'][:, 1:, None]], dim=-1).reshape(B * (T - 1), -1)
        return torch.nn.functional.mse_loss(pred, target)
    with torch.no_grad():
        initial = [float(loss_of(model, x)) for x in batches]
    losses, final = fit(model, batches, loss_of)
    print(json.dumps({'windows': len(ds), 'chunks': len(ds.chunks), 'image': list(b['image'].shape), 'action': list(b['action'].shape), 'state': list(b['state'].shape),
                      'reward': list(b['reward'].shape), 'is_first_dtype': str(b['is_first'].dtype), 'initial': float(np.mean(initial)), 'final': float(np.mean(final)), 'losses': losses}))


if __name__ == '__main__':
    {'lerobot': lerobot, 'dreamer': dreamer}[sys.argv[1]](*sys.argv[2:])
