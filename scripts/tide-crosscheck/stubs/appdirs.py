def user_data_dir(*a, **k): return '/tmp'
