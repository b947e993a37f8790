# Study: the CPU configs on a HAM10000 cut to 1,600 training images (one
# per lesion), melanoma vs not: the size of a typical user's set
# (docs/benchmarks.md, "Recipes that follow the data"). Make the list, then
# run the study (ResNet-18 at 64 px on a CPU):
#   python tools/benchmarks/make_subset.py ../shared/data/ham10000_200x150/labels.csv \
#       --split-file ../shared/data/ham10000_200x150/splits.csv --group-key lesion_id \
#       --size train=1600 --positive mel \
#       --path-prefix ../shared/data/ham10000_200x150/ --out data/subsets/ham1600_mel.csv
#   python tools/benchmarks/run_benchmark.py configs/benchmarks/studies/ham1600_mel_64px.py
name = 'HAM10000, 1,600 training images, melanoma vs not, ResNet-18, 64 px'
work_dir = 'work_dirs/study_ham1600'
seeds = [0, 1, 2]
stage_minutes = None

subset = 'data/subsets/ham1600_mel.csv'
data = {}
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    data[f'{loader}.dataset.data_root'] = '.'
    data[f'{loader}.dataset.ann_file'] = subset
    data[f'{loader}.dataset.split_file'] = None
    data[f'{loader}.dataset.group_key'] = 'group'


methods = dict(
    random=dict(label='random init', stages=[]),
    mocov2_shipped=dict(
        label='MoCo v2, 20 epochs (queue 4,096, hue + greyscale)',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/mocov2/'
                        'mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py')]),
    mocov2=dict(
        label='MoCo v2 recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/mocov2/'
                        'mocov2_resnet18_1xb64-coslr-1k_ham10000-64px.py')]),
    gravis_shipped=dict(
        label='GraVIS, 2 epochs',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/gravis/'
                        'gravis_resnet18_1xb16-v8-coslr-2e_ham10000-64px.py')]),
    gravis=dict(
        label='GraVIS recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/gravis/'
                        'gravis_resnet18_1xb16-v8-coslr-1k_ham10000-64px.py')]),
    pcrl_shipped=dict(
        label='PCRL, 2 epochs',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/pcrl/'
                        'pcrl_resnet18-unet_1xb32-coslr-2e_ham10000-64px.py')]),
    pcrl=dict(
        label='PCRL recipe',
        stages=[dict(name='pretrain', cfg_options=data,
                    config='configs/pcrl/'
                        'pcrl_resnet18-unet_1xb32-coslr-1k_ham10000-64px.py')]),
)

probe_data = dict(data)
probe_data['model.head.num_classes'] = 2
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    probe_data[f'{loader}.dataset.label_key'] = 'label'
downstream = [
    dict(
        name='linear',
        type='linear_probe',
        label='Linear probe, melanoma vs not (frozen features)',
        config='configs/benchmarks/classification/'
        'resnet18_1xb64-coslr-30e_ham10000-64px.py',
        cfg_options=probe_data,
        metrics=['balanced_acc', 'macro_auc']),
]
