# Synthetic CT-like crop pairs (tools/dataset_converters/make_demo_volumes.py)
# with PCRL 3D's views: the LUNA16 recipe (luna16_pcrl.py) on small volumes.
_base_ = ['./luna16_pcrl.py']

data_root = 'data/demo_volumes'
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    # Only the pairs the generator listed, whatever else lies in the folder.
    dataset=dict(data_root=data_root, ann_file='index.txt'))
