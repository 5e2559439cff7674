#!/bin/sh
# A volume driver (docker's /VolumeDriver.* protocol) answering one HTTP request on stdin/stdout; volumes are
# directories under /data (the plugin's PropagatedMount), each a tmpfs of its own when TMPFS=1. Every call is
# appended to /data/.calls.
cr=$(printf '\r')
read -r method path protocol
length=0
while read -r line; do
    line=${line%"$cr"}
    [ -z "$line" ] && break
    case "$line" in
        [Cc]ontent-[Ll]ength:*) length=${line#*:}; length=${length# } ;;
    esac
done
body=$(head -c "$length")
field() { echo "$body" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
name=$(field Name)
echo "$path $name $(field ID)" >> /data/.calls
ok='{"Err":""}'
case "$path" in
    /Plugin.Activate) answer='{"Implements":["VolumeDriver"]}' ;;
    /VolumeDriver.Create)
        mkdir -p "/data/$name" && answer=$ok
        if [ "$TMPFS" = 1 ]; then mount -t tmpfs tmpfs "/data/$name" || answer='{"Err":"mount failed"}'; fi ;;
    /VolumeDriver.Remove)
        if [ "$TMPFS" = 1 ]; then umount "/data/$name"; fi
        rm -rf "/data/$name" && answer=$ok ;;
    /VolumeDriver.Mount|/VolumeDriver.Path) answer="{\"Mountpoint\":\"/data/$name\",\"Err\":\"\"}" ;;
    /VolumeDriver.Unmount) answer=$ok ;;
    /VolumeDriver.Get)
        if [ -d "/data/$name" ]; then
            answer="{\"Volume\":{\"Name\":\"$name\",\"Mountpoint\":\"/data/$name\",\"Status\":{\"served-by\":\"busybox sh\"}},\"Err\":\"\"}"
        else
            answer='{"Err":"no such volume"}'
        fi ;;
    /VolumeDriver.List) answer='{"Volumes":[],"Err":""}' ;;
    /VolumeDriver.Capabilities) answer='{"Capabilities":{"Scope":"local"}}' ;;
    *) answer='{"Err":"unknown method"}' ;;
esac
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#answer}" "$answer"
