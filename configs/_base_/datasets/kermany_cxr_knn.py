# kNN monitoring on the Kermany paediatric chest X-rays (pneumonia vs
# normal) in ../shared/data/chest_xray_pneumonia_224 (see
# docs/data_preparation.md): only the val/test loaders and evaluators, to
# combine with a base that defines the training data. splits.csv fixes the
# splits: the official test set is `test`, 10 % of the training patients
# are `val`. The images are 224x224 JPEGs with the grey values in all three
# channels, so LoadImageFromFile reads them like colour photos.
# Names are prefixed with `knn_` so that they do not clash with the
# training base's `data_root`, `crop_size`, `eval_pipeline`...
knn_data_root = '../shared/data/chest_xray_pneumonia_224'
knn_img_size = 224  # the stored size; a child config may set it lower
knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(knn_img_size, knn_img_size)),
    dict(type='PackMedInputs'),
]

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='MedImageList',
        data_root=knn_data_root,
        ann_file='labels.csv',
        split_file='splits.csv',  # joined on the image column
        img_key='image',
        label_key='label_idx',  # NORMAL=0, PNEUMONIA=1
        classes=('NORMAL', 'PNEUMONIA'),
        group_key='patient_id',  # 'personN' / 'IM-NNNN'
        # The official test/ folder numbers its patients on its own, so a
        # patient_id it shares with train/ is not a leak.
        independent_splits=('test', ),
        split='val',
        pipeline=knn_pipeline))
# Neighbours from the query's own patient are ignored.
val_evaluator = dict(type='KNNAccuracy', k=20, exclude_same_group=True)
val_cfg = dict()
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
test_evaluator = val_evaluator
test_cfg = dict()
