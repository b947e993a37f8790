# The Kermany paediatric chest X-rays (../shared/data/chest_xray_pneumonia_224,
# 4,707 training images) with MoCo v2's two views at 64 px, for CPU runs;
# kNN monitoring on the val patients from kermany_cxr_knn.py.
_base_ = ['./kermany_cxr_knn.py', './mocov2_views_64px.py']

crop_size = 64

view_pipeline = {{_base_.mocov2_grey_views_64px}}  # no vertical flip
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type='MedImageList',
        data_root='../shared/data/chest_xray_pneumonia_224',
        ann_file='labels.csv',
        split_file='splits.csv',
        img_key='image',
        group_key='patient_id',
        # test/ numbers its patients on its own: not a leak.
        independent_splits=('test', ),
        split='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MedMultiView', num_views=2,
                 transforms=[view_pipeline]),
            dict(type='PackMedInputs'),
        ]))
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
test_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
